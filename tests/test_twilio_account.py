"""`ivr twilio connect|status` against Twilio's REST API (its HTTP mocked, shaped as Twilio documents it)."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs

import pytest
import requests
import responses

from ivr import create_app
from ivr.cli import cli

ACCOUNT = "AC" + "a" * 32
NUMBER_SID = "PN" + "b" * 32
NUMBER = "+441332000111"
API = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}"
LIST = re.compile(re.escape(f"{API}/IncomingPhoneNumbers.json") + r"(\?.*)?$")
UPDATE = f"{API}/IncomingPhoneNumbers/{NUMBER_SID}.json"
PUBLIC = "https://line.example.org"


def number_payload(**voice: str) -> dict[str, object]:
    """One IncomingPhoneNumber resource as Twilio's API returns it."""
    return {
        "account_sid": ACCOUNT,
        "address_requirements": "none",
        "api_version": "2010-04-01",
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False},
        "date_created": "Thu, 30 Jul 2015 23:19:04 +0000",
        "date_updated": "Thu, 30 Jul 2015 23:19:04 +0000",
        "friendly_name": "DVS trafficking line",
        "phone_number": NUMBER,
        "origin": "twilio",
        "sid": NUMBER_SID,
        "sms_method": "POST",
        "sms_url": "",
        "status": "in-use",
        "status_callback": voice.get("status_callback", ""),
        "status_callback_method": voice.get("status_callback_method", "POST"),
        "trunk_sid": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/{NUMBER_SID}.json",
        "voice_application_sid": voice.get("voice_application_sid", ""),
        "voice_caller_id_lookup": False,
        "voice_fallback_method": voice.get("voice_fallback_method", "POST"),
        "voice_fallback_url": voice.get("voice_fallback_url", ""),
        "voice_method": voice.get("voice_method", "POST"),
        "voice_url": voice.get("voice_url", "https://demo.twilio.com/welcome/voice/"),
        "emergency_status": "Active",
        "emergency_address_sid": None,
        "bundle_sid": None,
        "status_callback_event": None,
    }


def page(*numbers: dict[str, object]) -> dict[str, object]:
    """A page of the IncomingPhoneNumbers list, as Twilio's API returns it."""
    return {
        "end": len(numbers) - 1,
        "first_page_uri": f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json?PageSize=2&Page=0",
        "incoming_phone_numbers": list(numbers),
        "next_page_uri": None,
        "page": 0,
        "page_size": 2,
        "previous_page_uri": None,
        "start": 0,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json?PageSize=2&Page=0",
    }


POINTING_HERE = {
    "voice_url": f"{PUBLIC}/voice",
    "voice_fallback_url": f"{PUBLIC}/voice/fallback",
    "status_callback": f"{PUBLIC}/voice/status",
}


@pytest.fixture
def account_app(app_config, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    return create_app(app_config)


@pytest.fixture
def twilio_api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def ivr(app, *args: str, answer: str = ""):
    return app.test_cli_runner().invoke(cli, list(args), input=answer)


def test_status_shows_where_the_number_points_and_that_it_is_not_here(account_app, twilio_api) -> None:
    twilio_api.get(LIST, json=page(number_payload()))
    result = ivr(account_app, "twilio", "status", NUMBER, "--url", PUBLIC)
    assert result.exit_code == 1, result.output
    assert "NOT A call comes in: POST https://demo.twilio.com/welcome/voice/" in result.output
    assert "NOT Primary handler fails: POST (not set)" in result.output
    assert "run `ivr twilio connect`" in result.output
    asked = parse_qs(twilio_api.calls[0].request.url.split("?", 1)[1])
    assert asked["PhoneNumber"] == [NUMBER]
    assert twilio_api.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_connect_prints_old_and_new_asks_then_writes(account_app, twilio_api) -> None:
    twilio_api.get(LIST, json=page(number_payload(voice_application_sid="AP" + "c" * 32)))
    twilio_api.post(UPDATE, json=number_payload(**POINTING_HERE))
    refused = ivr(account_app, "twilio", "connect", NUMBER, "--url", PUBLIC, answer="n\n")
    assert refused.exit_code == 1
    assert not [c for c in twilio_api.calls if c.request.method == "POST"]
    result = ivr(account_app, "twilio", "connect", NUMBER, "--url", PUBLIC, answer="y\n")
    assert result.exit_code == 0, result.output
    assert (
        f"A call comes in: POST https://demo.twilio.com/welcome/voice/ -> POST {PUBLIC}/voice"
        in result.output
    )
    assert f"Primary handler fails: POST (not set) -> POST {PUBLIC}/voice/fallback" in result.output
    assert f"Call status changes: POST (not set) -> POST {PUBLIC}/voice/status" in result.output
    assert "TwiML app AP" in result.output
    posted = [c for c in twilio_api.calls if c.request.method == "POST"]
    assert len(posted) == 1
    sent = parse_qs(posted[0].request.body, keep_blank_values=True)
    assert sent["VoiceUrl"] == [f"{PUBLIC}/voice"] and sent["VoiceMethod"] == ["POST"]
    assert sent["VoiceFallbackUrl"] == [f"{PUBLIC}/voice/fallback"] and sent["VoiceFallbackMethod"] == [
        "POST"
    ]
    assert sent["StatusCallback"] == [f"{PUBLIC}/voice/status"] and sent["StatusCallbackMethod"] == ["POST"]
    assert sent["VoiceApplicationSid"] == [""]


def test_dry_run_only_prints(account_app, twilio_api) -> None:
    twilio_api.get(LIST, json=page(number_payload()))
    result = ivr(account_app, "twilio", "connect", NUMBER, "--url", PUBLIC, "--dry-run")
    assert result.exit_code == 0 and "(dry run: nothing changed)" in result.output
    assert all(c.request.method == "GET" for c in twilio_api.calls)


def test_a_number_already_here_is_left_alone(account_app, twilio_api) -> None:
    twilio_api.get(LIST, json=page(number_payload(**POINTING_HERE)))
    assert "points at this service" in ivr(account_app, "twilio", "status", NUMBER, "--url", PUBLIC).output
    result = ivr(account_app, "twilio", "connect", NUMBER, "--url", PUBLIC)
    assert result.exit_code == 0 and "nothing to change" in result.output


def test_an_api_key_pair_is_used_instead_of_the_auth_token(app_config, monkeypatch, twilio_api) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_API_KEY", "SK" + "d" * 32)
    monkeypatch.setenv("TWILIO_API_SECRET", "secret")
    twilio_api.get(LIST, json=page(number_payload(**POINTING_HERE)))
    assert ivr(create_app(app_config), "twilio", "status", NUMBER, "--url", PUBLIC).exit_code == 0
    user = base64.b64decode(twilio_api.calls[0].request.headers["Authorization"].split()[1]).decode()
    assert user.startswith("SK" + "d" * 32 + ":")


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (
            dict(
                status=401,
                json={
                    "code": 20003,
                    "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                    "status": 401,
                },
            ),  # noqa: E501
            "Error: Twilio refused the credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
        ),
        (dict(json=page()), f"Error: {NUMBER} is not a number on this account"),
        (
            dict(body=requests.ConnectionError("no route to host")),
            "Error: Twilio cannot be reached: ConnectionError",
        ),
    ],
    ids=["wrong-credentials", "not-on-the-account", "no-network"],
)
def test_failures_are_one_clear_line(account_app, twilio_api, reply: dict, says: str) -> None:
    twilio_api.get(LIST, **reply)
    result = ivr(account_app, "twilio", "connect", NUMBER, "--url", PUBLIC)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(says), result.output
    assert "Traceback" not in result.output


def test_credentials_and_url_are_asked_for_plainly(app_config, monkeypatch) -> None:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    app = create_app(app_config)
    assert "set TWILIO_ACCOUNT_SID" in ivr(app, "twilio", "status", NUMBER, "--url", PUBLIC).output
    assert "give --url" in ivr(app, "twilio", "status", NUMBER).output
    assert "is not an https URL" in ivr(app, "twilio", "status", NUMBER, "--url", "http://x.example").output
