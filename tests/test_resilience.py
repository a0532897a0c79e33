"""Faults inside the service never reach a caller: every case answers 200 with valid TwiML."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from ivr.services import services
from tests.helpers.reload import settled
from tests.helpers.twilio import post_signed, sign, twiml

GATHER = "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0"


def says(root) -> str:  # type: ignore[no-untyped-def]
    """Return everything a TwiML document says, as one text."""
    return " ".join("".join(e.itertext()) for e in root.iter("Say"))


def assert_menu_serves(client) -> str:  # type: ignore[no-untyped-def]
    """Walk greeting -> main menu -> help menu; return what the help menu says."""
    first = twiml(post_signed(client, "/voice", {"CallSid": "CA1"}))
    assert "999" in says(first).replace("9 9 9", "999")
    menu = twiml(post_signed(client, GATHER, {"CallSid": "CA1", "Digits": "2"}))
    gather = menu.find("Gather")
    assert gather is not None and "node=help_menu" in gather.get("action", "")
    return says(menu)


class Recorder:
    """A journey store that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, object]]] = []

    def record(self, call_sid: str, event: str, **fields: object) -> None:
        self.events.append((call_sid, event, fields))


class BrokenStore:
    """A journey store whose database is down."""

    def record(self, call_sid: str, event: str, **fields: object) -> None:
        raise ConnectionError("journey database is down")


class LockedStore:
    """A journey store that waits on a lock held elsewhere, then gives up as a locked SQLite does."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()

    def record(self, call_sid: str, event: str, **fields: object) -> None:
        if not self.lock.acquire(timeout=0.05):
            raise TimeoutError("database is locked")


def replace(path: Path, text: str) -> None:
    """Write a file so that its modification stamp surely changes."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    if path.stat().st_mtime_ns == before:
        time.sleep(0.01)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda d: (d / "flow.yaml").unlink(), id="flow-file-deleted"),
        pytest.param(lambda d: (d / "en-GB.yaml").unlink(), id="catalogue-deleted"),
        pytest.param(lambda d: replace(d / "flow.yaml", "nodes: [unclosed\n"), id="flow-not-yaml"),
        pytest.param(lambda d: replace(d / "flow.yaml", "- just\n- a list\n"), id="flow-not-a-mapping"),
        pytest.param(
            lambda d: replace(
                d / "flow.yaml",
                (d / "flow.yaml").read_text().replace("on_failed: main_menu", "on_failed: gone"),
            ),
            id="flow-leads-nowhere",
        ),
        pytest.param(
            lambda d: replace(
                d / "en-GB.yaml",
                (d / "en-GB.yaml").read_text().replace("  help_intro:", "  help_intro_renamed:"),
            ),
            id="prompt-missing",
        ),
        pytest.param(lambda d: replace(d / "en-GB.yaml", "\x00\x01 not text"), id="catalogue-garbage"),
    ],
)
def test_broken_prompt_files_keep_the_last_good_flow(app, client, prompts_dir, caplog, breakage) -> None:
    live = services(app).live
    version = live.current().flow.version
    heard = assert_menu_serves(client)

    with caplog.at_level(logging.ERROR, logger="ivr.line.live"):
        breakage(prompts_dir)
        settled(app)
        assert assert_menu_serves(client) == heard

    assert live.current().flow.version == version
    assert live.problems, "the refused edit is not exposed in live.problems"
    refused = [r for r in caplog.records if r.levelno == logging.ERROR and "refused" in r.getMessage()]
    assert refused, "the refused edit was not logged"
    assert version in refused[0].getMessage()
    assert any(str(p) in refused[0].getMessage() for p in live.problems)


def test_a_fixed_edit_is_served_after_a_broken_one(app, client, prompts_dir) -> None:
    live = services(app).live
    catalogue = prompts_dir / "en-GB.yaml"
    good = catalogue.read_text()
    replace(catalogue, "prompts: [broken\n")
    settled(app)
    assert_menu_serves(client)
    assert live.problems

    replace(catalogue, good.replace("help_intro: ", "help_intro: Help and support. ", 1))
    settled(app)
    assert "Help and support." in assert_menu_serves(client)
    assert live.problems == []


@pytest.mark.parametrize("store", [BrokenStore, LockedStore], ids=["store-down", "store-locked"])
def test_a_failing_journey_store_never_stops_a_call(app, client, caplog, store) -> None:
    services(app).journeys = store()
    with caplog.at_level(logging.WARNING, logger="ivr.line.voice"):
        assert_menu_serves(client)
        dial = twiml(post_signed(client, GATHER, {"CallSid": "CA1", "Digits": "0"}))
        assert dial.find("Dial/Number") is not None
        ended = post_signed(client, "/voice/status", {"CallSid": "CA1", "CallStatus": "completed"})
    assert ended.status_code == 204
    assert any("journey event dropped" in r.getMessage() for r in caplog.records)


def test_an_error_while_answering_gives_safe_twiml(app, client, caplog, monkeypatch) -> None:
    renderer = services(app).live.current().renderer

    def fail(*args: object, **kwargs: object) -> str:
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(renderer, "render", fail)
    with caplog.at_level(logging.ERROR):
        root = twiml(post_signed(client, GATHER, {"CallSid": "CA1", "Digits": "2"}))
    text = says(root)
    assert "9 9 9" in text and "0 8 0 8, 2 0 0 0, 2 4 7" in text
    assert root.find("Gather") is not None, "the safe answer must offer to connect"
    assert any(r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param("/voice", {}, id="incoming"),
        pytest.param(GATHER, {"Digits": "3"}, id="key"),
        pytest.param(GATHER, {}, id="silence"),
        pytest.param(GATHER, {"Digits": "7"}, id="wrong-key"),
        pytest.param(
            "/voice/dial?node=refuge_transfer&lang=en-GB&s=0&i=0", {"DialCallStatus": "busy"}, id="dial"
        ),
    ],
)
def test_a_retried_request_changes_nothing(app, client, path, params) -> None:
    """Twilio retries a webhook that timed out: the second answer is the first, counters included."""
    store = Recorder()
    services(app).journeys = store
    params = {"CallSid": "CA" + "7" * 32, **params}
    first = post_signed(client, path, params)
    events = list(store.events)
    second = post_signed(client, path, params)
    twiml(first)
    assert second.get_data() == first.get_data()
    # A store may drop the duplicate; it must never record anything the first did not.
    assert store.events[len(events) :] in ([], events)


@pytest.mark.parametrize("path", ["/voice", GATHER])
def test_a_retry_with_twilios_idempotency_token_is_counted_once(app, client, path) -> None:
    """Twilio marks its retries with the first attempt's I-Twilio-Idempotency-Token."""
    store = Recorder()
    services(app).journeys = store
    params = {"CallSid": "CA" + "8" * 32, "Digits": "3"}
    headers = {**sign("http://localhost" + path, params), "I-Twilio-Idempotency-Token": "abc-123"}
    first = client.post(path, data=params, headers=headers)
    recorded = list(store.events)
    second = client.post(path, data=params, headers=headers)
    assert recorded
    assert second.get_data() == first.get_data()
    assert store.events == recorded
    # A new request (a new token) is counted again.
    client.post(path, data=params, headers={**headers, "I-Twilio-Idempotency-Token": "abc-124"})
    assert len(store.events) == 2 * len(recorded)


def test_a_retried_silence_is_not_counted_twice(client) -> None:
    first = twiml(post_signed(client, GATHER, {"CallSid": "CA1"}))
    again = twiml(post_signed(client, GATHER, {"CallSid": "CA1"}))
    action = first.find("Gather").get("action")  # type: ignore[union-attr]
    assert "s=1" in action
    assert again.find("Gather").get("action") == action  # type: ignore[union-attr]
