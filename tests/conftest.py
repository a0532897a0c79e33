"""Fixtures: an app on a copy of the shipped prompts, and calls signed as Twilio signs them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr import create_app
from ivr.audio.library import AudioLibrary
from ivr.cli import cli
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.parts import missing
from tests.helpers.twilio import ROOT, TOKEN


@pytest.fixture(autouse=True)
def instance_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every app a test makes keeps its own files (secret key, SQLite) under the test's folder."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("IVR_INSTANCE_DIR", str(folder))
    return folder


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
        # The watcher looks at the prompt files and the audio manifest as often as it may (every
        # 0.05 s); tests that edit them wait for it (tests/helpers/reload.py).
        "FLOW_RELOAD_SECONDS": 0,
        "TTS_BACKOFF": 0,
    }


@pytest.fixture
def app(app_config: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    return create_app(app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def flow(app):
    return services(app).live.current().flow


@pytest.fixture
def lib(app) -> AudioLibrary:
    """The app's audio library."""
    return services(app).audio


@pytest.fixture
def ivr(app):
    """Run an `ivr` command against the test app, as staff run it: ivr("prompts", "status")."""
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(cli, list(args))


@pytest.fixture
def call(app):
    """A new simulated call, signed with the test token."""
    return Call(app, TOKEN)


# --- Journey store: the same tests on SQLite and on a real PostgreSQL server ------------------
# IVR_TEST_POSTGRES_URL names a PostgreSQL database (`.ci/run` starts one); each test gets its own
# schema in it. Without the URL the PostgreSQL cases skip, unless IVR_TEST_STRICT=1 (CI).


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
        missing("IVR_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
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
    yield flask_app
    found = services(flask_app)
    if found.journeys is not None:
        found.journeys.flush()
    found.engine.dispose()
