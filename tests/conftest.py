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
