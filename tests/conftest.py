"""Fixtures: an app on a copy of the shipped prompts, and calls signed as Twilio signs them."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.simulator import Call

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    """A copy of the shipped flow and catalogues that a test may edit."""
    target = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", target)
    return target


@pytest.fixture
def app_config(tmp_path: Path, prompts_dir: Path) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PROMPTS_DIR": str(prompts_dir),
        "AUDIO_DIR": str(tmp_path / "audio"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'journeys.db'}",
    }


@pytest.fixture
def app(app_config: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    flask_app = create_app(app_config)
    flask_app.instance_path = str(tmp_path / "instance")
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def flow(app):
    return app.extensions["ivr"].live.current().flow


@pytest.fixture
def call(app):
    """A new simulated call, signed with the test token."""
    return Call(app, TOKEN)


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    """Return the header Twilio would send for a POST of params to url."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def post_signed(client, path: str, params: dict[str, str] | None = None, base: str = "http://localhost"):
    params = params or {}
    return client.post(path, data=params, headers=sign(base + path, params))


def twiml(response) -> ET.Element:
    """Parse a response as TwiML, failing the test if it is not."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return root


# --- Journey store: the same tests on SQLite and on a real PostgreSQL server ------------------
# IVR_TEST_POSTGRES_URL names a PostgreSQL database (`.ci/run` starts one); each test gets its own
# schema in it. Without the URL the PostgreSQL cases skip, unless IVR_REQUIRE_POSTGRES=1 (CI).


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path: Path):
    """A SQLAlchemy URL of an empty journey database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'journeys.db'}"
        return
    import os
    import uuid

    from sqlalchemy import create_engine, text

    base = os.environ.get("IVR_TEST_POSTGRES_URL", "")
    if not base:
        if os.environ.get("IVR_REQUIRE_POSTGRES") == "1":
            pytest.fail("IVR_REQUIRE_POSTGRES=1 but IVR_TEST_POSTGRES_URL is not set")
        pytest.skip("IVR_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def journey_app(
    app_config: dict[str, object], store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An app whose journey store is on `store_url`; its engine is closed after the test."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    flask_app = create_app({**app_config, "DATABASE_URL": store_url})
    flask_app.instance_path = str(tmp_path / "instance")
    yield flask_app
    services = flask_app.extensions["ivr"]
    if services.journeys is not None:
        services.journeys.flush()
    services.engine.dispose()
