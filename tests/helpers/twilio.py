"""Requests signed as Twilio signs them, and TwiML parsed for assertions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-auth-token-0123456789abcdef"


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    """Return the header Twilio would send for a POST of params to url."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def post_signed(client, path: str, params: dict[str, str] | None = None, base: str = "http://localhost"):
    """POST params to a path of the test client, signed for base + path."""
    params = params or {}
    return client.post(path, data=params, headers=sign(base + path, params))


def twiml(response) -> ET.Element:
    """Parse a response as TwiML, failing the test if it is not."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return root
