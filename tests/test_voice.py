"""The webhooks as Twilio meets them: signed requests, every key, silence, dial outcomes."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlparse

import pytest

from ivr.checks import load
from ivr.flow.catalogue import spell_number
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.twilio import ROOT, TOKEN, post_signed, sign, twiml

SHIPPED, _ = load(ROOT / "prompts")
assert SHIPPED is not None
MENUS = [n for n in SHIPPED.nodes.values() if n.kind in ("menu", "message")]
KEYS = list("0123456789*#")
REFUGE = "+448082000247"


def says(root: ET.Element) -> str:
    return " ".join("".join(e.itertext()) for e in root.iter("Say"))


def gather_state(root: ET.Element) -> dict[str, str]:
    gather = root.find("Gather")
    assert gather is not None, ET.tostring(root, encoding="unicode")
    query = parse_qs(urlparse(gather.get("action")).query)
    return {k: v[0] for k, v in query.items()}


def at_node(call: Call, node: str) -> None:
    """Point the call at a node as a Gather action would."""
    call.start()
    call.last.gather_action = f"/voice/gather?node={node}&lang=en-GB&s=0&i=0"


def test_incoming_call_greets_with_999_advice_first(client) -> None:
    root = twiml(post_signed(client, "/voice", {"CallSid": "CA1"}))
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert gather.get("finishOnKey") == ""
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("input") == "dtmf"
    spoken = [" ".join(s.itertext()) for s in gather.iter("Say")]
    assert spoken[0].startswith("Derbyshire Victim Services")
    assert "9 9 9" in spoken[1] and "hang up" in spoken[1]
    assert "5, 5" in spoken[2] and "mobile" in spoken[2]
    assert all(s.get("voice") == "Polly.Amy" and s.get("language") == "en-GB" for s in gather.iter("Say"))


@pytest.mark.parametrize("node", [n.id for n in MENUS])
@pytest.mark.parametrize("key", KEYS)
def test_every_key_of_every_menu(app, call: Call, flow, node: str, key: str) -> None:
    offered = services(app).live.current().renderer.offered
    at_node(call, node)
    turn = call.press(key)
    assert turn.status == 200
    root = ET.fromstring(turn.twiml)
    current = flow.nodes[node]
    global_key = flow.global_keys.get(key)
    # A key pressed during a message that goes straight on is meant for the menu that follows.
    target_node = current
    while target_node.next and global_key is None:
        target_node = flow.nodes[target_node.next]
    option = target_node.option(key)
    if option is not None and option.lang is not None and option.lang not in offered:
        option = None  # a language that cannot be played is not a choice
    if global_key is not None and global_key.action == "goto":
        assert turn.dial_number == REFUGE
    elif global_key is not None and global_key.action == "repeat":
        assert gather_state(root)["node"] == node
        assert "not an option" not in says(root)
    elif global_key is not None and global_key.action == "back":
        assert gather_state(root)["node"] == flow.back_of(node)
    elif global_key is not None and global_key.action == "slow":
        state = gather_state(root)
        assert state["node"] == node and state["slow"] == "1"
        assert says(root).startswith(flow.catalogue.text(flow.system_prompts["slow_on"], "en-GB"))
    elif option is not None:
        target = flow.nodes[option.goto]
        if target.kind == "transfer":
            assert turn.dial_number == REFUGE
        else:
            assert gather_state(root)["node"] == option.goto
    else:
        state = gather_state(root)
        assert state["node"] == target_node.id
        assert "not an option" in says(root).split(".")[0]
        # The options are read again.
        assert target_node.options and all(opt.say for opt in target_node.options)
        assert len(root.findall(".//Say")) > 1


def test_refuge_is_one_key_from_every_menu(call: Call) -> None:
    for node in MENUS:
        at_node(call, node.id)
        assert call.press("0").dial_number == REFUGE, node.id


def test_silence_reprompts_then_ends_politely(call: Call, flow) -> None:
    call.start()
    call.press("1")  # English
    call.press("2")  # help menu
    limit = flow.limits.silences
    for attempt in range(1, limit):
        turn = call.silence()
        root = ET.fromstring(turn.twiml)
        assert gather_state(root) == {"node": "help_menu", "lang": "en-GB", "s": str(attempt), "i": "0"}
        expected = "I still did not hear a key" if attempt == limit - 1 else "I did not hear a key"
        assert says(root).startswith(expected)
    turn = call.silence()
    assert turn.hangup
    spoken = " ".join(turn.says)
    assert "9 9 9" in spoken
    assert spell_number("0808 2000 247") in spoken
    assert spoken.rstrip().endswith("Goodbye.")


def test_silence_through_the_greeting_reaches_the_main_menu_in_english(call: Call) -> None:
    call.start()
    nodes = []
    for _ in range(3):
        turn = call.silence()
        nodes.append(gather_state(ET.fromstring(turn.twiml))["node"])
        assert "I did not hear" not in " ".join(turn.says)
    assert nodes == ["language_menu", "keys_welcome", "main_menu"]
    assert gather_state(ET.fromstring(turn.twiml))["lang"] == "en-GB"


def test_wrong_keys_are_bounded(call: Call, flow) -> None:
    call.start()
    call.press("1")  # English
    call.press("3")  # report menu
    for attempt in range(1, flow.limits.invalid_keys):
        turn = call.press("8")
        assert gather_state(ET.fromstring(turn.twiml))["i"] == str(attempt)
    turn = call.press("8")
    assert turn.hangup
    assert "9 9 9" in " ".join(turn.says)


def test_a_good_key_clears_the_counters(call: Call) -> None:
    call.start()
    call.press("1")
    call.press("3")
    call.press("8")
    call.silence()
    turn = call.press("1")
    assert gather_state(ET.fromstring(turn.twiml)) == {
        "node": "report_police",
        "lang": "en-GB",
        "s": "0",
        "i": "0",
    }


def test_message_reprompt_reads_only_its_choices(call: Call, flow) -> None:
    at_node(call, "learn_signs")
    turn = call.press("7")
    spoken = " ".join(turn.says)
    assert "International Labour Organisation" not in spoken
    assert flow.catalogue.text("next_report", "en-GB") in spoken


def test_transfer_dials_refuge_with_the_lines_number(app) -> None:
    call = Call(app, TOKEN, to="+441332000000")
    call.start()
    call.press("1")
    call.press("2")
    turn = call.press("1")
    dial = ET.fromstring(turn.twiml).find("Dial")
    assert dial is not None
    assert dial.get("callerId") == "+441332000000"
    assert dial.get("timeout") == "30"
    assert dial.get("record") is None
    assert "Refuge" in turn.says[0] and "free" in turn.says[0]
    assert parse_qs(urlparse(dial.get("action")).query)["node"] == ["refuge_transfer"]


def test_caller_id_setting_wins(app_config, monkeypatch) -> None:
    from ivr import create_app

    app = create_app({**app_config, "CALLER_ID": "+441234567890"})
    call = Call(app, TOKEN, to="+441332000000")
    call.start()
    turn = call.press("0")
    assert ET.fromstring(turn.twiml).find("Dial").get("callerId") == "+441234567890"


def test_answered_transfer_ends_kindly(call: Call) -> None:
    call.start()
    call.press("0")
    turn = call.dial_outcome("completed")
    assert turn.hangup
    assert "Thank you for calling" in " ".join(turn.says)


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "canceled", "something-new", ""])
def test_unanswered_transfer_reads_number_twice_and_returns(call: Call, status: str) -> None:
    call.start()
    call.press("0")
    turn = call.dial_outcome(status)
    spoken = " ".join(turn.says)
    assert spoken.count(spell_number("0808 2000 247")) == 2
    assert gather_state(ET.fromstring(turn.twiml))["node"] == "main_menu"
    assert not turn.hangup


def test_the_line_never_dials_999(call: Call, flow) -> None:
    numbers = {c.e164 for c in flow.contacts.values() if c.e164}
    assert all("999" not in n[-4:] for n in numbers)
    call.start()
    call.press("1")  # English
    turn = call.press("1")  # in danger
    assert turn.dial_number is None
    assert "9 9 9" in " ".join(turn.says)


# --- bad input: always 200 TwiML ---------------------------------------------------------


@pytest.mark.parametrize("digits", ["abc", "12", "", " ", "٣", "1#", "\x00", "9" * 500])
def test_odd_digits_get_a_spoken_answer(client, digits: str) -> None:
    path = "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0"
    root = twiml(post_signed(client, path, {"Digits": digits}))
    assert root.find("Gather") is not None or root.find("Hangup") is not None


@pytest.mark.parametrize(
    "path",
    [
        "/voice/gather",
        "/voice/gather?node=nope&lang=en-GB",
        "/voice/gather?node=../../etc&lang=xx",
        "/voice/gather?node=main_menu&lang=en-GB&s=-1&i=abc",
        "/voice/gather?node=main_menu&s=99999999999999999999",
        "/voice/dial?node=main_menu&lang=en-GB",
        "/voice/dial",
        "/voice/nowhere",
    ],
)
def test_odd_urls_get_safe_twiml(client, path: str) -> None:
    root = twiml(post_signed(client, path, {"Digits": "1"}))
    assert "9 9 9" in says(root)


def test_unknown_node_goes_back_to_the_greeting(client) -> None:
    root = twiml(post_signed(client, "/voice/gather?node=nope&lang=en-GB", {"Digits": "1"}))
    assert says(root).startswith("Derbyshire Victim Services")


def test_get_is_answered_too(client) -> None:
    url = "http://localhost/voice?CallSid=CA1"
    response = client.get("/voice?CallSid=CA1", headers=sign(url, {}))
    assert twiml(response).find("Gather") is not None


def test_huge_body_gets_safe_twiml(client) -> None:
    response = client.post("/voice/gather?node=main_menu", data={"Digits": "1", "pad": "x" * 200_000})
    assert "9 9 9" in says(twiml(response))


def test_an_exception_answers_safe_twiml_and_logs_no_number(app, client, caplog) -> None:
    renderer = services(app).live.current().renderer

    def broken(prompt_id: str, lang: str, slow: bool) -> str | None:
        raise OSError("audio store unreadable")

    # A fault deep inside rendering: the audio store fails while TwiML is being built.
    renderer.audio = broken
    renderer._cache.clear()
    caplog.set_level(logging.DEBUG)
    params = {"CallSid": "CA1", "From": "+447700900123", "To": "+441332000000", "Digits": "2"}
    root = twiml(post_signed(client, "/voice/gather?node=main_menu&lang=en-GB", params))
    assert "9 9 9" in says(root)
    assert spell_number("0808 2000 247") in says(root)
    assert "press 0" in says(root)
    assert "error answering /voice/gather" in caplog.text
    assert "7700900123" not in caplog.text and "1332000000" not in caplog.text


def test_fallback_route_always_answers_safe_twiml(client) -> None:
    root = twiml(post_signed(client, "/voice/fallback", {"ErrorCode": "11200"}))
    assert "9 9 9" in says(root)
    assert root.find("Gather") is not None


def test_status_callback_is_accepted(client) -> None:
    response = post_signed(
        client, "/voice/status", {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "42"}
    )
    assert response.status_code == 204


# --- signatures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/voice", "/voice/gather?node=main_menu", "/voice/dial?node=refuge_transfer", "/voice/status"]
)
def test_missing_signature_is_refused(client, path: str) -> None:
    assert client.post(path, data={"CallSid": "CA1"}).status_code == 403


def test_forged_signature_is_refused(client) -> None:
    params = {"CallSid": "CA1", "Digits": "0"}
    headers = sign("http://localhost/voice/gather?node=main_menu", params, token="not-the-token")
    response = client.post("/voice/gather?node=main_menu", data=params, headers=headers)
    assert response.status_code == 403


def test_signature_for_other_params_is_refused(client) -> None:
    headers = sign("http://localhost/voice/gather?node=main_menu", {"Digits": "1"})
    response = client.post("/voice/gather?node=main_menu", data={"Digits": "0"}, headers=headers)
    assert response.status_code == 403


def test_without_a_token_requests_are_served_and_a_warning_given(app_config, caplog) -> None:
    from ivr import create_app

    with caplog.at_level(logging.WARNING):
        app = create_app({**app_config, "TWILIO_AUTH_TOKEN": ""})
    assert "NOT being verified" in caplog.text
    assert app.test_client().post("/voice").status_code == 200


@pytest.mark.parametrize("proxy_fix", [True, False])
def test_behind_a_tls_proxy(app_config, proxy_fix: bool) -> None:
    from ivr import create_app

    app = create_app({**app_config, "PROXY_FIX": 1 if proxy_fix else 0})
    params = {"CallSid": "CA1"}
    headers = {
        **sign("https://line.example.org/voice", params),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "line.example.org",
        "X-Forwarded-For": "203.0.113.9",
    }
    response = app.test_client().post("/voice", data=params, headers=headers)
    assert response.status_code == (200 if proxy_fix else 403)


# --- the whole flow ------------------------------------------------------------------------


def test_walk_the_whole_flow(app, flow) -> None:
    """Press every key (and silence, and every dial outcome) from every state reached."""
    seen_nodes: set[str] = set()
    seen_actions: set[str] = set()
    frontier: list[str] = []
    call = Call(app, TOKEN)
    first = call.start()
    frontier.append(first.gather_action)
    ended = 0
    while frontier:
        action = frontier.pop()
        if action in seen_actions:
            continue
        seen_actions.add(action)
        query = parse_qs(urlparse(action).query)
        seen_nodes.add(query["node"][0])
        for key in [*KEYS, ""]:
            call.last.gather_action = action
            call.last.dial_action = None
            turn = call.press(key) if key else call.silence()
            assert turn.status == 200
            ET.fromstring(turn.twiml)
            if turn.dial_action:
                seen_nodes.add("refuge_transfer")
                for outcome in ["completed", "busy", "no-answer", "failed", "canceled"]:
                    call.last.dial_action = turn.dial_action
                    after = call.dial_outcome(outcome)
                    assert after.status == 200
                    if after.hangup:
                        ended += 1
                    else:
                        frontier.append(after.gather_action)
            elif turn.hangup:
                ended += 1
            else:
                assert turn.gather_action, turn.twiml
                frontier.append(turn.gather_action)
    assert ended > 0
    ends = {n.id for n in flow.nodes.values() if n.kind == "end"}
    assert seen_nodes | ends == set(flow.nodes)
