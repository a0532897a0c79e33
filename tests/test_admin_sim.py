"""The simulator's API: each step a signed request to the real /voice, state kept by the page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ivr.cli import cli
from tests.helpers.admin import csrf_token, https_client, make_users, sign_in


@pytest.fixture
def web(app):
    make_users(app)
    client = https_client(app)
    sign_in(client, "sam")
    client.token = csrf_token(client, "/admin/simulator")
    return client


def step(web, state: dict | None = None, **body):
    """Post one step as the page does, carrying the call's state."""
    payload = {**(state or {}), **body}
    response = web.post("/admin/api/sim", json=payload, headers={"X-CSRFToken": web.token})
    assert response.status_code == 200, response.get_data(as_text=True)
    turn = response.get_json()
    return turn, {"sid": turn["sid"], "gather": turn["gather"], "dial": turn["dial"]}


def test_a_call_to_the_refuge_transfer_and_a_busy_fallback(web):
    turn, state = step(web, action="start")
    assert turn["status"] == 200  # signed with the app's token, or /voice would have said 403
    assert turn["request"] == "/voice"
    assert any("dial 9 9 9" in s for s in turn["says"])
    assert turn["node"] == "greeting"
    turn, state = step(web, state, action="press", key="1")  # English
    assert turn["params"] == {"Digits": "1"}
    turn, state = step(web, state, action="press", key="2")
    assert turn["node"] == "help_menu"
    turn, state = step(web, state, action="press", key="1")
    assert turn["dial_number"] == "+448082000247"
    assert turn["gather"] is None and turn["dial"].startswith("/voice/dial?")
    assert ET.fromstring(turn["twiml"]).find("Dial/Number").text == "+448082000247"
    turn, state = step(web, state, action="dial", outcome="busy")
    assert turn["params"] == {"DialCallStatus": "busy"}
    assert any("0 8 0 8, 2 0 0 0, 2 4 7" in s for s in turn["says"])
    assert turn["node"] == "main_menu"
    assert not turn["ended"]


def test_an_answered_transfer_ends_the_call(web):
    _, state = step(web, action="start")
    turn, state = step(web, state, action="press", key="0")
    turn, _ = step(web, state, action="dial", outcome="answered")
    assert turn["ended"] and turn["hangup"]
    assert turn["gather"] is None


def test_silences_end_the_call_politely(web, flow):
    _, state = step(web, action="start")
    turn, state = step(web, state, action="silence")  # the greeting goes on to its next menu
    assert turn["node"] == flow.nodes[flow.start].next
    for _ in range(10):  # each menu on the way gives up after its own silences
        turn, state = step(web, state, action="silence")
        if turn["ended"]:
            break
    assert turn["ended"]
    assert any("Goodbye" in s for s in turn["says"])


def test_a_spoken_answer_goes_where_its_key_goes(web):
    _, state = step(web, action="start")
    turn, state = step(web, state, action="press", key="1")  # English
    turn, state = step(web, state, action="silence")
    assert turn["node"] == "main_menu"
    assert turn["speech"] is True
    assert "get help" in turn["hints"]
    turn, state = step(web, state, action="speak", words="get help")
    assert turn["params"] == {"SpeechResult": "get help"}
    assert turn["node"] == "help_menu"


def test_hanging_up_sends_the_status_callback(web, app):
    _, state = step(web, action="start")
    response = web.post(
        "/admin/api/sim", json={"action": "hangup", "sid": state["sid"], "seconds": 12},
        headers={"X-CSRFToken": web.token},
    )  # fmt: skip
    assert response.get_json() == {"sid": state["sid"], "ended": True}


def test_the_same_call_sid_is_kept(web):
    first, state = step(web, action="start")
    second, _ = step(web, state, action="press", key="1")
    assert first["sid"] == second["sid"]
    assert first["sid"].startswith("CA")


@pytest.mark.parametrize(
    "body",
    [
        {"action": "press", "key": "1", "gather": "https://evil.example/voice/gather?node=x"},
        {"action": "press", "key": "1", "gather": "/admin/api/sim?x=1"},
        {"action": "press", "key": "12", "gather": "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0"},
        {"action": "press", "key": "<", "gather": "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0"},
        {"action": "dial", "outcome": "completed-ish", "dial": "/voice/dial?node=refuge_transfer&lang=en-GB"},
        {"action": "dial", "outcome": "busy", "dial": "/voice/gather?node=main_menu"},
        {"action": "speak", "words": "", "gather": "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0"},
        {"action": "explode"},
        [],
    ],
    ids=["foreign-url", "not-voice", "two-keys", "not-a-key", "bad-outcome", "dial-without-transfer",
         "no-words", "bad-action", "not-an-object"],
)  # fmt: skip
def test_bad_steps_are_refused(web, body):
    response = web.post("/admin/api/sim", json=body, headers={"X-CSRFToken": web.token})
    assert response.status_code == 400


def test_the_page_has_a_keypad_and_outcomes(web):
    page = web.get("/admin/simulator").get_data(as_text=True)
    for key in "0123456789":
        assert f'data-key="{key}"' in page
    assert 'aria-label="Press star"' in page and 'aria-label="Press hash"' in page
    for outcome in ("answered", "busy", "no-answer"):
        assert f'data-outcome="{outcome}"' in page


@pytest.mark.parametrize(
    "keys,expect",
    [
        (["1", "2", "1", "busy"], "could not answer"),
        (["0", "answered"], "[hangs up]"),
        (["."] * 10, "Goodbye"),
        (["1", ".", "say:get help"], "Getting help."),
    ],
    ids=["busy-fallback", "answered", "silences", "spoken"],
)
def test_ivr_simulate_prints_the_transcript(app, keys, expect):
    result = app.test_cli_runner().invoke(cli, ["simulate", *keys])
    assert result.exit_code == 0, result.output
    assert expect in result.output
