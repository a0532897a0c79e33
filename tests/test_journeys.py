"""The journey store, on SQLite and on PostgreSQL: events of real calls, hashing, privacy, purge."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, Table, inspect, select

from ivr import create_app
from ivr.cli import cli
from ivr.journeys import events as journey_events
from ivr.journeys.events import utcnow
from ivr.journeys.store import JourneyStore
from ivr.journeys.tables import events
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.twilio import ROOT, TOKEN

CALLER = "+447700900123"  # Ofcom's drama range: never a real person
LINE = "+441332000000"
DIGITS = ("7700900123", "07700900123", "1332000000", "01332000000")


class CallFrom(Call):
    """A simulated call that carries the caller's and the line's numbers, as Twilio's do."""

    def _post(self, url: str, params: dict[str, str], record: bool = True):  # type: ignore[override]
        numbers = {"From": CALLER, "Caller": CALLER, "Called": LINE, "FromCity": "DERBY"}
        return super()._post(url, {**numbers, **params}, record)


def store_of(app) -> JourneyStore:
    store = services(app).journeys
    assert isinstance(store, JourneyStore)
    return store


def rows_of(app) -> list[dict[str, object]]:
    """Return every stored event, oldest first, after the writer has caught up."""
    store = store_of(app)
    assert store.flush(10), "the writer did not catch up"
    with store.engine.connect() as connection:
        result = connection.execute(select(events).order_by(events.c.id))
        return [dict(row._mapping) for row in result]


def full_call(app, call_class: type[Call] = Call) -> Call:
    """Walk a call through keys, a busy transfer, a wrong key, a silence and an answered transfer."""
    call = call_class(app, TOKEN, to=LINE)
    call.start()
    call.press("1")  # during the greeting: meant for the language menu (English)
    call.press("2")  # during the keys message: meant for the main menu
    call.press("1")
    assert call.last.dial_number
    call.dial_outcome("busy")
    call.press("8")
    call.silence()
    call.press("0")
    call.dial_outcome("answered")
    call.hang_up(95)
    assert all(turn.status == 200 for turn in call.turns)
    return call


FULL_CALL_EVENTS = [
    ("call_started", "greeting", None, None),
    ("entered", "greeting", None, None),
    ("entered", "language_menu", None, None),
    ("language", "language_menu", "1", None),
    ("entered", "keys_welcome", None, None),
    ("entered", "main_menu", None, None),
    ("key", "main_menu", "2", None),
    ("entered", "help_menu", None, None),
    ("key", "help_menu", "1", None),
    ("entered", "refuge_transfer", None, None),
    ("transfer_attempted", "refuge_transfer", None, None),
    ("transfer_failed", "refuge_transfer", None, "busy"),
    ("entered", "main_menu", None, None),
    ("invalid", "main_menu", "8", None),
    ("entered", "main_menu", None, None),
    ("silence", "main_menu", None, None),
    ("entered", "main_menu", None, None),
    ("key", "main_menu", "0", None),
    ("entered", "refuge_transfer", None, None),
    ("transfer_attempted", "refuge_transfer", None, None),
    ("transfer_answered", "refuge_transfer", None, "completed"),
    ("entered", "goodbye", None, None),
    ("ended", None, None, "completed"),
]


def test_a_full_call_writes_one_event_per_step(journey_app) -> None:
    call = full_call(journey_app)
    rows = rows_of(journey_app)
    assert [(r["event"], r["node"], r["key"], r["outcome"]) for r in rows] == FULL_CALL_EVENTS
    expected_key = hmac.new(b"test-secret", call.sid.encode(), hashlib.sha256).hexdigest()
    assert {r["call_key"] for r in rows} == {expected_key}
    assert {r["lang"] for r in rows[:-1]} == {"en-GB"}
    assert rows[-1]["lang"] is None and rows[-1]["duration"] == 95
    times = [r["at"] for r in rows]
    assert times == sorted(times)
    assert store_of(journey_app).stats() == {
        "written": len(rows),
        "dropped": 0,
        "dropped_by_reason": {"queue_full": 0, "store_failed": 0, "shutdown": 0},
        "queued": 0,
        "outage": False,
    }
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_each_call_has_its_own_key_and_the_key_depends_on_the_secret(journey_app, app_config) -> None:
    first, second = Call(journey_app, TOKEN), Call(journey_app, TOKEN)
    first.start()
    second.start()
    keys = {r["call_key"] for r in rows_of(journey_app)}
    assert len(keys) == 2
    assert first.sid not in str(keys) and second.sid not in str(keys)
    other = JourneyStore(lambda: store_of(journey_app).engine, "another-secret")
    assert other.call_key(first.sid) not in keys
    assert store_of(journey_app).call_key(first.sid) in keys


def test_no_phone_number_in_any_table_or_log(journey_app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # SQLAlchemy holds its loggers at WARNING
    for _ in range(3):
        full_call(journey_app, CallFrom)
    short = CallFrom(journey_app, TOKEN, to=LINE)
    short.start()
    short.silence()
    short._post("/voice/status", {"CallStatus": "no-answer", "CallDuration": "0"}, record=False)
    rows = rows_of(journey_app)
    assert len(rows) == 3 * len(FULL_CALL_EVENTS) + 4

    engine = store_of(journey_app).engine
    cells: list[str] = []
    for name in inspect(engine).get_table_names():
        table = Table(name, MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            for row in connection.execute(select(table)):
                cells += [str(value) for value in row]
    assert len(cells) >= len(rows) * len(events.columns)
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert "journey_events" in logged  # the database's own log was captured too
    for digits in DIGITS:
        assert not [cell for cell in cells if digits in cell.replace(" ", "")], digits
        assert digits not in logged.replace(" ", ""), digits
    assert not [cell for cell in cells if "+44" in cell or "DERBY" in cell]
    if engine.dialect.name == "sqlite":
        folder = Path(str(engine.url.database)).parent
        raw = b"".join(path.read_bytes() for path in folder.glob("journeys.db*"))
        assert raw and not [d for d in DIGITS if d.encode() in raw]


def test_status_callbacks_that_are_not_an_end_are_not_recorded(journey_app, client) -> None:
    call = Call(journey_app, TOKEN)
    for status in ("initiated", "ringing", "in-progress"):
        call._post("/voice/status", {"CallStatus": status}, record=False)
    call._post("/voice/status", {"CallStatus": "completed", "CallDuration": "12345678901"}, record=False)
    rows = rows_of(journey_app)
    assert [(r["event"], r["outcome"], r["duration"]) for r in rows] == [("ended", "completed", None)]


def test_values_that_could_carry_a_number_are_not_stored(journey_app) -> None:
    store = store_of(journey_app)
    assert store.record("CA1", "entered", node="node_07700900123", lang="en-GB", key="12", outcome="busy")
    assert store.record("CA1", "ended", outcome="+447700900123", lang="07700900123", duration=-1)
    assert not store.record("", "entered", node="greeting")
    assert not store.record("CA1", "no_such_event", node="greeting")
    rows = rows_of(journey_app)
    assert [(r["node"], r["lang"], r["key"], r["outcome"], r["duration"]) for r in rows] == [
        ("?", "en-GB", "?", "busy", None),
        (None, "?", None, "?", None),
    ]


def test_an_unknown_node_in_the_url_is_stored_as_no_node(journey_app) -> None:
    call = Call(journey_app, TOKEN)
    call.start()
    turn = call._post("/voice/gather?node=n07700900123&lang=en-GB", {"Digits": "1"})
    assert turn.status == 200 and turn.gather_action
    rows = rows_of(journey_app)
    unknown = [r for r in rows if r["event"] == "unknown_node"]
    assert len(unknown) == 1 and unknown[0]["node"] is None


def test_the_writer_stops_when_idle_and_starts_again(journey_app) -> None:
    store = store_of(journey_app)
    store.idle_seconds = 0.05
    store.record("CA1", "call_started", node="greeting")
    assert store.flush(10)
    deadline = time.monotonic() + 5
    while store._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store._thread is None
    store.record("CA1", "entered", node="greeting")
    assert [r["event"] for r in rows_of(journey_app)] == ["call_started", "entered"]


def old_events(app, ages_in_days: list[float]) -> None:
    store = store_of(app)
    store.ensure_schema()
    now = utcnow()
    with store.engine.begin() as connection:
        connection.execute(
            events.insert(),
            [
                {"call_key": f"k{i}", "at": now - timedelta(days=age), "event": "entered", "node": "greeting"}
                for i, age in enumerate(ages_in_days)
            ],
        )


def test_purge_deletes_events_older_than_the_retention(journey_app) -> None:
    old_events(journey_app, [0, 10, 89.9, 90.1, 400])
    runner = journey_app.test_cli_runner()
    result = runner.invoke(cli, ["journeys", "purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 journey event(s) older than 90 day(s)" in result.output
    assert store_of(journey_app).count() == 3
    result = runner.invoke(cli, ["journeys", "purge", "--older-than", "5"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 journey event(s) older than 5 day(s)" in result.output
    assert [r["call_key"] for r in rows_of(journey_app)] == ["k0"]


def test_purge_reads_the_retention_from_the_config(
    app_config, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_RETENTION_DAYS", "7")
    journey_app = create_app({**app_config, "DATABASE_URL": store_url})
    old_events(journey_app, [1, 8, 31])
    result = journey_app.test_cli_runner().invoke(cli, ["journeys", "purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 journey event(s) older than 7 day(s)" in result.output
    services(journey_app).engine.dispose()
    monkeypatch.setenv("IVR_RETENTION_DAYS", "soon")
    result = CliRunner().invoke(cli, ["journeys", "purge"])
    assert result.exit_code == 1
    assert "Error: IVR_RETENTION_DAYS must be a whole number, not 'soon'" in result.output
    result = journey_app.test_cli_runner().invoke(cli, ["journeys", "purge", "--older-than", "0"])
    assert result.exit_code != 0


def test_db_upgrade_creates_the_journey_table(store_url, app_config, monkeypatch) -> None:
    from ivr import create_app

    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    app = create_app({**app_config, "DATABASE_URL": store_url, "JOURNEYS": 0})
    engine = services(app).engine
    assert services(app).journeys is None
    assert not inspect(engine).has_table("journey_events")
    result = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "journey_events" in result.output
    assert inspect(engine).has_table("journey_events")
    result = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert "up to date" in result.output
    engine.dispose()


def test_journeys_off_records_nothing_and_calls_still_work(app_config, monkeypatch) -> None:
    from ivr import create_app

    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    app = create_app({**app_config, "JOURNEYS": "0"})
    call = Call(app, TOKEN)
    assert call.start().status == 200
    assert call.press("2").dial_action is None and call.last.status == 200
    assert services(app).journeys is None
    assert not inspect(services(app).engine).has_table("journey_events")


def test_the_store_needs_a_secret(journey_app) -> None:
    with pytest.raises(ValueError, match="IVR_SECRET_KEY"):
        JourneyStore(lambda: store_of(journey_app).engine, "")


def test_the_readme_documents_journeys() -> None:
    readme = (ROOT / "README.md").read_text()
    for needle in (
        "## Call journeys",
        "ivr journeys purge",
        "ivr report",
        "IVR_RETENTION_DAYS",
        "IVR_JOURNEYS",
    ):
        assert needle in readme, needle
    assert journey_events.DEFAULT_RETENTION_DAYS == 90


def test_the_greeting_passing_on_and_a_global_key_at_the_greeting(journey_app) -> None:
    quiet = Call(journey_app, TOKEN)
    quiet.start()
    quiet.silence()  # the greeting goes straight on to the language menu: not a silence, not entered twice
    eager = Call(journey_app, TOKEN)
    eager.start()
    eager.press("0")  # a global key is the greeting's own
    rows = rows_of(journey_app)
    by_call: dict[object, list[tuple[object, object, object]]] = {}
    for r in rows:
        by_call.setdefault(r["call_key"], []).append((r["event"], r["node"], r["key"]))
    assert sorted(by_call.values()) == sorted(
        [
            [
                ("call_started", "greeting", None),
                ("entered", "greeting", None),
                ("entered", "language_menu", None),
            ],
            [
                ("call_started", "greeting", None),
                ("entered", "greeting", None),
                ("key", "greeting", "0"),
                ("entered", "refuge_transfer", None),
                ("transfer_attempted", "refuge_transfer", None),
            ],
        ]
    )


def test_db_upgrade_migrates_an_older_journey_table(store_url, app_config, monkeypatch) -> None:
    from sqlalchemy import Column, DateTime, Integer, String, create_engine

    from ivr import create_app

    old = MetaData()
    Table(
        "journey_events",
        old,
        Column("id", Integer, primary_key=True),
        Column("call_key", String(64), nullable=False),
        Column("at", DateTime(), nullable=False),
        Column("event", String(24), nullable=False),
        Column("node", String(64)),
    )
    engine = create_engine(store_url)
    old.create_all(engine)
    engine.dispose()
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    app = create_app({**app_config, "DATABASE_URL": store_url, "JOURNEYS": 0})
    result = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    for column in ("lang", "key", "outcome", "duration"):
        assert f"journey_events.{column}" in result.output
    assert "index ix_journey_events_call" in result.output
    engine = services(app).engine
    assert {c["name"] for c in inspect(engine).get_columns("journey_events")} == set(events.columns.keys())
    store = JourneyStore(lambda: engine, "test-secret")
    store.record("CA1", "ended", outcome="completed", duration=3)
    assert store.flush(10) and store.written == 1
    assert "up to date" in app.test_cli_runner().invoke(cli, ["db", "upgrade"]).output
    engine.dispose()


def test_odd_values_never_spoil_a_batch(journey_app) -> None:
    store = store_of(journey_app)
    store.record("CA1", "key", node=["main_menu"], key=["1"], lang=7, duration="5")  # type: ignore[arg-type]
    store.record("CA1", "entered", node="main_menu", lang="en-GB")
    rows = rows_of(journey_app)
    assert [(r["event"], r["node"], r["key"], r["lang"], r["duration"]) for r in rows] == [
        ("key", "?", "?", "?", None),
        ("entered", "main_menu", None, "en-GB", None),
    ]
    assert store.dropped == 0


def test_a_forked_worker_gets_its_own_queue_and_writer(journey_app, monkeypatch) -> None:
    import os

    store = store_of(journey_app)
    store.record("CA1", "call_started", node="greeting")
    assert store.flush(10)
    store.engine.dispose()  # a real child leaves the parent's connections alone; here, close them
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)  # as if this were a forked child
    store.record("CA1", "entered", node="greeting")
    assert store._pid == parent + 1
    assert [r["event"] for r in rows_of(journey_app)] == ["call_started", "entered"]
