"""A failing journey store never reaches a caller: locked SQLite, PostgreSQL down, a store that raises."""

from __future__ import annotations

import logging
import socket
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ivr import create_app
from ivr.journeys.store import JourneyStore
from ivr.journeys.tables import events
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.twilio import TOKEN

KEYS = ["1", "2", "1", "busy", "8", ".", "4", "1"]


def play(app, calls: int = 5) -> list[Call]:
    """Play calls through the webhooks and check every answer is 200 TwiML with something to hear."""
    played = []
    for _ in range(calls):
        call = Call(app, TOKEN)
        call.start()
        for key in KEYS:
            if key == "busy":
                call.dial_outcome("busy")
            elif key == ".":
                call.silence()
            else:
                call.press(key)
        call.hang_up(30)
        for turn in call.turns:
            assert turn.status == 200, turn.twiml
            root = ET.fromstring(turn.twiml)
            assert root.tag == "Response" and (turn.says or turn.plays)
        played.append(call)
    return played


EVENTS_PER_CALL = 22  # call_started … ended for the KEYS above (checked by the recovery in the first test)


def stored(store: JourneyStore) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(events)).scalar_one())


def test_locked_sqlite_drops_events_and_calls_go_on(app, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    store = services(app).journeys
    store.ensure_schema()  # as after the first write: what fails below is every insert
    database = Path(str(store.engine.url.database))
    blocker = sqlite3.connect(database, timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        play(app, calls=5)
        # Every webhook answered while the writer could not write a single row.
        assert store.written == 0
        assert store.flush(30)
        assert store.written == 0
        assert store.dropped == 5 * EVENTS_PER_CALL
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    warnings = [r.getMessage() for r in caplog.records if "journey events dropped" in r.getMessage()]
    assert warnings and "database is locked" in warnings[0]

    # The store recovers by itself once the lock is gone.
    play(app, calls=1)
    assert store.flush(10)
    assert stored(store) == EVENTS_PER_CALL == store.written


def test_a_full_queue_drops_at_once_and_counts(app, caplog) -> None:
    caplog.set_level(logging.WARNING)
    found = services(app)
    found.journeys = JourneyStore(lambda: found.engine, "test-secret", capacity=3)
    database = Path(str(found.engine.url.database))
    blocker = sqlite3.connect(database, timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        play(app, calls=2)
        assert found.journeys.flush(30)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert found.journeys.written == 0
    assert found.journeys.dropped == 2 * EVENTS_PER_CALL
    assert any("queue is full" in r.getMessage() for r in caplog.records)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgresql_drops_events_and_calls_go_on(app_config, monkeypatch, caplog) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    url = f"postgresql+psycopg://ivr@127.0.0.1:{closed_port()}/ivr"
    app = create_app({**app_config, "DATABASE_URL": url})
    store = services(app).journeys
    assert isinstance(store, JourneyStore)
    play(app, calls=3)
    assert store.flush(60)
    assert store.written == 0
    assert store.dropped == 3 * EVENTS_PER_CALL
    warnings = [r.getMessage() for r in caplog.records if "journey events dropped" in r.getMessage()]
    assert warnings and "OperationalError" in warnings[0]
    # `ivr report` on a database that is down says so instead of printing figures.
    from ivr.cli import cli

    result = app.test_cli_runner().invoke(cli, ["report"])
    assert result.exit_code == 1 and "the journey store cannot be reached: OperationalError" in result.output
    result = app.test_cli_runner().invoke(cli, ["journeys", "purge"])
    assert result.exit_code == 1 and "cannot be reached" in result.output
    services(app).engine.dispose()


class Exploding:
    """A journey store that fails in every way a broken store could."""

    def __init__(self) -> None:
        self.calls = 0

    def record(self, *args: object, **kwargs: object) -> bool:
        self.calls += 1
        raise RuntimeError("the store exploded")


def test_a_store_that_raises_never_reaches_the_caller(app, caplog) -> None:
    caplog.set_level(logging.WARNING)
    exploding = Exploding()
    services(app).journeys = exploding
    play(app, calls=1)
    assert exploding.calls == EVENTS_PER_CALL
    assert any("journey event dropped" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status", ["completed", "busy", "failed", "no-answer", "canceled", "ringing"])
def test_status_callback_answers_with_a_locked_store(app, status: str) -> None:
    store = services(app).journeys
    blocker = sqlite3.connect(Path(str(store.engine.url.database)), timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        call = Call(app, TOKEN)
        turn = call._post("/voice/status", {"CallStatus": status, "CallDuration": "7"}, record=False)
        assert turn.status == 204
        assert store.flush(30)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.dropped == (0 if status == "ringing" else 1)
