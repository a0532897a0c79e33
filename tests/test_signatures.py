"""Signatures are checked against the URL exactly as Twilio requested it, and twilio's variants still pass."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from tests.helpers.twilio import TOKEN, sign, twiml

PARAMS = {"CallSid": "CA" + "1" * 32, "Digits": "2"}
PATH = "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0&note=caf%C3%A9+%26+more"


@pytest.mark.parametrize(
    "signed_url",
    [
        pytest.param(f"http://localhost{PATH}", id="as-sent"),
        pytest.param(f"http://localhost:80{PATH}", id="with-default-port"),
        pytest.param(
            "http://localhost/voice/gather?node=main_menu&lang=en-GB&s=0&i=0&note=café+%26+more", id="decoded"
        ),
    ],
)
def test_a_signature_twilio_could_send_is_accepted(client, signed_url: str) -> None:
    root = twiml(client.post(PATH, data=PARAMS, headers=sign(signed_url, PARAMS)))
    assert "node=help_menu" in root.find("Gather").get("action")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "signed_url",
    [
        pytest.param(f"https://localhost{PATH}", id="other-scheme"),
        pytest.param(f"http://localhost{PATH}".replace("s=0", "s=1"), id="other-query"),
        pytest.param(f"http://elsewhere.example{PATH}", id="other-host"),
    ],
)
def test_a_signature_for_another_url_is_refused(client, signed_url: str) -> None:
    response = client.post(PATH, data=PARAMS, headers=sign(signed_url, PARAMS))
    assert response.status_code == 403


def test_repeated_form_values_are_all_signed(client) -> None:
    data = {"CallSid": "CA1", "Digits": ["2", "3"]}
    signed = {"X-Twilio-Signature": _signature_of_repeated(PATH, data)}
    twiml(client.post(PATH, data=data, headers=signed))
    tampered = client.post(PATH, data={"CallSid": "CA1", "Digits": ["2", "4"]}, headers=signed)
    assert tampered.status_code == 403


class Repeated(dict):  # type: ignore[type-arg]
    """Form values with repeats, read the way twilio's validator reads a multi-dict."""

    def getall(self, name: str) -> list[str]:
        return list(self[name])


def _signature_of_repeated(path: str, data: dict[str, object]) -> str:
    values = Repeated({k: v if isinstance(v, list) else [v] for k, v in data.items()})
    return RequestValidator(TOKEN).compute_signature(f"http://localhost{path}", values)
