"""Every lost journey event is counted: per reason, logged when an outage begins and ends, and kept."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from ivr import db
from ivr.cli import cli
from ivr.journeys.losses import REASONS
from ivr.journeys.store import JourneyStore
from ivr.journeys.tables import events, losses
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.twilio import ROOT, TOKEN

# The end of an outage, and the last line at exit: "<n> event(s) lost in this outage (<reason>=<n>, ...)".
OUTAGE_TOTAL = re.compile(r"(\d+) event\(s\) lost in this outage \(([^)]*)\)")


def logged_outages(caplog: pytest.LogCaptureFixture) -> list[tuple[int, dict[str, int]]]:
    """Return each outage's total and per-reason counts, as the log lines give them."""
    found = []
    for record in caplog.records:
        match = OUTAGE_TOTAL.search(record.getMessage())
        if match:
            parts = dict(part.split("=") for part in match.group(2).split(", "))
            found.append((int(match.group(1)), {reason: int(n) for reason, n in parts.items()}))
    return found


def stored(engine: Engine, table=events) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def recorded_losses(engine: Engine) -> dict[str, int]:
    """Return the losses the writer kept in `journey_losses`, per reason."""
    query = select(losses.c.reason, func.sum(losses.c.lost)).group_by(losses.c.reason)
    with engine.connect() as connection:
        return {reason: int(n) for reason, n in connection.execute(query)}


class Switch:
    """Make a store's writes fail while `down` is set, as an unreachable database fails them."""

    def __init__(self, store: JourneyStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = False
        real = store._write

        def write(rows, lost) -> None:  # type: ignore[no-untyped-def]
            if self.down:
                raise OperationalError(
                    "COPY journey_events", {}, ConnectionRefusedError("connection refused")
                )
            real(rows, lost)

        monkeypatch.setattr(store, "_write", write)


@pytest.fixture
def store(store_url: str) -> Iterator[JourneyStore]:
    """A store on SQLite or PostgreSQL with a small queue and short intervals, for fast outages."""
    engine = db.make_engine(store_url)
    found = JourneyStore(lambda: engine, "test-secret", capacity=40, linger=0.01, warn_every=0.05)
    found.ensure_schema()
    yield found
    found.close(timeout=5)  # the exit's count and log line, while the test still captures them
    engine.dispose()


def burst(store: JourneyStore, count: int, name: str = "CA") -> int:
    """Record count events as fast as webhooks could; return how many the queue took."""
    return sum(store.record(f"{name}{i}", "entered", node="greeting", lang="en-GB") for i in range(count))


def test_an_outage_is_logged_when_it_begins_and_ends_with_the_exact_loss(
    store: JourneyStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    switch = Switch(store, monkeypatch)
    switch.down = True
    recorded = 0
    for round_ in range(6):  # a while down: full queues and failed batches, both counted
        burst(store, 60, f"CA{round_}-")
        recorded += 60
        time.sleep(0.05)
    assert store.flush(10)
    stats = store.stats()
    assert stats["written"] == 0 and stats["dropped"] == recorded and stats["outage"] is True
    by_reason = stats["dropped_by_reason"]
    assert set(by_reason) == set(REASONS) and by_reason["queue_full"] > 0 and by_reason["store_failed"] > 0
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "an outage began" in m]) == 1
    assert "the store said ConnectionRefusedError: connection refused" in " ".join(messages)
    assert any("the outage goes on" in m for m in messages)  # the rate-limited reminders stay
    assert logged_outages(caplog) == []  # not over yet

    switch.down = False
    assert burst(store, 5, "back-") == 5
    assert store.flush(10)
    # The store's rows, the log's totals and the counters all tell the same loss.
    assert stored(store.engine) == 5 == recorded + 5 - store.dropped
    [(total, reasons)] = logged_outages(caplog)
    assert total == recorded == sum(reasons.values())
    assert reasons == {reason: n for reason, n in by_reason.items() if n}
    assert recorded_losses(store.engine) == reasons
    health = store.health()
    assert health["outage"] is None and health["dropped"] == recorded and health["written"] == 5
    assert any(m.startswith("journey store back after") for m in (r.getMessage() for r in caplog.records))


def test_each_outage_is_logged_and_kept_on_its_own(
    store: JourneyStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    switch = Switch(store, monkeypatch)
    lost = []
    for size in (7, 55):
        switch.down = True
        burst(store, size)
        assert store.flush(10)
        switch.down = False
        burst(store, 1, "ok")
        assert store.flush(10)
        lost.append(size)
    assert [total for total, _ in logged_outages(caplog)] == lost
    assert store.dropped == sum(lost) and store.written == 2
    with store.engine.connect() as connection:
        rows = connection.execute(select(losses).order_by(losses.c.id)).mappings().all()
    assert sum(r["lost"] for r in rows) == sum(lost)
    assert {r["reason"] for r in rows} <= set(REASONS)
    assert all(r["began"] <= r["ended"] for r in rows)
    assert len({r["began"] for r in rows}) == 2  # two outages, two start times


def test_a_locked_sqlite_store_loses_nothing_uncounted(
    app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    found = services(app)
    found.journeys = store = JourneyStore(lambda: found.engine, "test-secret", capacity=30, linger=0.01)
    store.ensure_schema()
    asked = count_records(store, monkeypatch)
    blocker = sqlite3.connect(Path(str(found.engine.url.database)), timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for _ in range(3):
            journey(app)
        assert store.flush(30)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    recorded = asked[0]
    assert recorded > 30 and store.written == 0 and store.dropped == recorded
    journey(app)
    assert store.flush(10)
    assert stored(found.engine) == asked[0] - recorded == store.written
    [(total, reasons)] = logged_outages(caplog)
    assert total == recorded and recorded_losses(found.engine) == reasons
    assert "the store said OperationalError: database is locked" in caplog.text


def count_records(store: JourneyStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the events the webhooks ask the store to record, kept or not: [count]."""
    asked = [0]
    real = store.record

    def record(*args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        asked[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "record", record)
    return asked


def journey(app) -> None:
    """Play a short call through the webhooks: keys, a wrong key, a busy transfer, the end."""
    call = Call(app, TOKEN)
    call.start()
    for key in ("1", "2", "8", "1"):
        call.press(key)
    call.dial_outcome("busy")
    call.hang_up(30)
    assert all(turn.status == 200 for turn in call.turns)


@pytest.mark.parametrize("late_write", ["fails", "succeeds"])
def test_at_exit_what_is_still_queued_is_counted_and_logged(
    store: JourneyStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, late_write: str
) -> None:
    caplog.set_level(logging.INFO)
    frozen = threading.Event()
    entered = threading.Event()
    real = store._write

    def write(rows, lost) -> None:  # type: ignore[no-untyped-def]
        entered.set()
        frozen.wait(10)  # a store that neither answers nor fails
        if late_write == "fails":
            raise OperationalError("COPY journey_events", {}, TimeoutError("timed out"))
        real(rows, lost)

    monkeypatch.setattr(store, "_write", write)
    store.batch_size = 10
    assert burst(store, 30) == 30
    assert entered.wait(5)
    assert store.close(timeout=0.1) == 30  # 10 being written, 20 queued
    assert store.stats()["dropped_by_reason"] == {"queue_full": 0, "store_failed": 0, "shutdown": 30}
    [(total, reasons)] = logged_outages(caplog)
    assert total == 30 and reasons == {"shutdown": 30}
    assert "30 event(s) still queued or being written are lost" in caplog.text
    assert not store.record("CA-late", "entered", node="greeting")  # after exit: lost at once, counted
    assert store.dropped == 31

    frozen.set()
    assert store.flush(5)  # the late write has come back, and been counted
    if late_write == "fails":  # already counted at exit: not counted again
        assert store.dropped == 31 and store.written == 0
    else:  # written after all: taken back, and said so
        assert store.dropped == 21 and store.written == 10 and stored(store.engine) == 10
        assert "10 of the events counted lost were written after all" in caplog.text
    assert store.close() == 0  # once only


FROZEN_EXIT = """
import logging, sys
from ivr import db
from ivr.journeys.store import JourneyStore

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
store = JourneyStore(lambda: db.make_engine(sys.argv[1]), "s", linger=0.01, batch_size=100, exit_timeout=0.3)
kept = sum(store.record(f"CA{i}", "entered", node="greeting") for i in range(250))
print(kept)
"""


def test_the_exit_hook_logs_what_a_frozen_store_lost() -> None:
    """A real exit: PostgreSQL accepts the connection and never answers; the events are counted lost."""
    with socket.socket() as frozen:
        frozen.bind(("127.0.0.1", 0))
        frozen.listen(8)
        url = f"postgresql+psycopg://ivr@127.0.0.1:{frozen.getsockname()[1]}/ivr"
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", FROZEN_EXIT, url], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "250"
    assert "WARNING journey store at exit: 250 event(s) still queued or being written are lost" in done.stderr
    assert "250 event(s) lost in this outage (shutdown=250), not recorded in the store" in done.stderr
    assert time.monotonic() - began < 20


def test_health_is_plain_json_and_names_every_reason(
    store: JourneyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    switch = Switch(store, monkeypatch)
    assert json.loads(json.dumps(store.health())) == {
        "written": 0,
        "queued": 0,
        "dropped": 0,
        "dropped_by_reason": {"queue_full": 0, "store_failed": 0, "shutdown": 0},
        "outage": None,
    }
    switch.down = True
    burst(store, 3)
    assert store.flush(10)
    health = json.loads(json.dumps(store.health()))
    outage = health["outage"]
    assert health["dropped"] == 3 and health["dropped_by_reason"]["store_failed"] == 3
    assert outage["lost"] == 3 and outage["lost_by_reason"] == {
        "queue_full": 0,
        "store_failed": 3,
        "shutdown": 0,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", outage["since"]) and outage["seconds"] >= 0
    assert "CA" not in json.dumps(health)  # no caller data, not even a (hashed) call


def test_report_shows_the_events_lost_in_the_period(journey_app) -> None:
    engine = services(journey_app).engine
    services(journey_app).journeys.ensure_schema()
    with engine.begin() as connection:
        connection.execute(
            losses.insert(),
            [
                {
                    "began": datetime(2026, 3, 2, 10),
                    "ended": datetime(2026, 3, 2, 10, 1),
                    "reason": r,
                    "lost": n,
                }
                for r, n in (("queue_full", 5), ("store_failed", 1000))
            ]
            + [
                {
                    "began": datetime(2026, 3, 4, 23),
                    "ended": datetime(2026, 3, 5, 1),
                    "reason": "store_failed",
                    "lost": 2,
                },
                {
                    "began": datetime(2026, 2, 1),
                    "ended": datetime(2026, 2, 1),
                    "reason": "queue_full",
                    "lost": 9,
                },
            ],
        )
    runner = journey_app.test_cli_runner()
    result = runner.invoke(cli, ["report", "--since", "2026-03-01", "--until", "2026-03-04"])
    assert result.exit_code == 0, result.output
    assert "Events lost by the store (never written, not in these figures): 1007" in result.output
    assert "1007 (queue_full 5, store_failed 1002)" in result.output
    result = runner.invoke(cli, ["report", "--csv", "--since", "2026-03-03"])
    assert result.exit_code == 0, result.output
    value = {(r["figure"], r["item"]): r["value"] for r in csv.DictReader(io.StringIO(result.output))}
    assert value[("events_lost", "store_failed")] == "2" and value[("events_lost", "queue_full")] == "0"
    assert value[("events_lost", "shutdown")] == "0" and value[("events_lost", "all")] == "2"
    everything = runner.invoke(cli, ["report"])
    assert "Events lost by the store (never written, not in these figures): 1016" in everything.output
    quiet = runner.invoke(cli, ["report", "--since", date(2026, 4, 1).isoformat()])
    assert "Events lost by the store (never written, not in these figures): 0" in quiet.output
