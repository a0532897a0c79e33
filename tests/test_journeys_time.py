"""Clock faults: impossible dates are purged and ignored, a clock going back leaves a call in order."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, delete, inspect, select

from ivr import create_app
from ivr.cli import cli
from ivr.journeys import report
from ivr.journeys.events import EARLIEST_EVENT, FUTURE_SLACK, utcnow
from ivr.journeys.store import JourneyStore
from ivr.journeys.tables import events
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.twilio import TOKEN


def store_of(app) -> JourneyStore:
    store = services(app).journeys
    assert isinstance(store, JourneyStore)
    return store


def put(app, rows: list[tuple[str, datetime, str, str | None]]) -> None:
    """Store events as (call key, time, event, node), as a writer with that clock would have."""
    store = store_of(app)
    store.ensure_schema()
    with store.engine.begin() as connection:
        connection.execute(
            events.insert(),
            [{"call_key": k, "at": at, "event": e, "node": n, "lang": "en-GB"} for k, at, e, n in rows],
        )


def a_call(key: str, start: datetime) -> list[tuple[str, datetime, str, str | None]]:
    """Return a short call's events: greeting, main menu, key 1, danger."""
    return [
        (key, start, "call_started", "greeting"),
        (key, start, "entered", "greeting"),
        (key, start + timedelta(seconds=20), "entered", "main_menu"),
        (key, start + timedelta(seconds=25), "key", "main_menu"),
        (key, start + timedelta(seconds=25), "entered", "danger"),
    ]


def test_purge_deletes_events_dated_in_the_future(journey_app) -> None:
    now = utcnow()
    put(
        journey_app,
        [
            (f"k{i}", now - timedelta(days=age), "entered", "greeting")
            for i, age in enumerate([0, -0.5, -2, -400, 10, 100])  # negative: ahead of now
        ],
    )
    result = journey_app.test_cli_runner().invoke(cli, ["journeys", "purge"])
    assert result.exit_code == 0, result.output
    assert (
        "deleted 1 journey event(s) older than 90 day(s) and 2 dated more than a day ahead" in result.output
    )
    with store_of(journey_app).engine.connect() as connection:
        kept = [
            row.call_key for row in connection.execute(select(events.c.call_key).order_by(events.c.call_key))
        ]
    assert kept == ["k0", "k1", "k4"]  # within [now - retention, now + 1 day]
    assert store_of(journey_app).purge(90) == (0, 0)


def test_reports_ignore_impossible_dates_and_say_how_many(journey_app) -> None:
    now = utcnow()
    yesterday = datetime.combine(now.date() - timedelta(days=1), datetime.min.time()) + timedelta(hours=9)
    put(journey_app, a_call("good", yesterday))
    put(journey_app, a_call("y1970", datetime(1970, 1, 1, 0, 0, 1)))  # a clock that lost its battery
    put(journey_app, a_call("ahead", now + timedelta(days=400)))  # a clock a year and more ahead
    # A call whose first event was stamped before the clock was set: counted by its real events.
    put(
        journey_app,
        [("mixed", datetime(1970, 1, 1), "call_started", "greeting")] + a_call("mixed", yesterday)[1:],
    )
    engine = store_of(journey_app).engine
    figs = report.figures(engine)
    assert figs.calls == 2 and figs.events == 9 and figs.ignored == 11
    assert figs.calls_per_day == [(yesterday.date(), 2)]
    assert {n.node: n.reached for n in figs.nodes} == {"greeting": 2, "main_menu": 2, "danger": 2}
    assert "Events ignored for an impossible date" in report.to_text(figs)
    assert "a clock fault), in the whole store: 11" in report.to_text(figs)
    table = list(csv.reader(io.StringIO(report.to_csv(figs))))
    assert ["events_ignored", "impossible_date", "", "11"] in table
    assert report.figures(engine, since=date(1970, 1, 1), until=date(1970, 1, 2)).calls == 0

    result = journey_app.test_cli_runner().invoke(cli, ["report"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) < 40  # not one line per day since 1970
    assert "2 call(s), 9 event(s)" in result.output


def test_calls_per_day_never_lists_more_days_than_asked_or_possible() -> None:
    now = datetime(2026, 3, 10, 12)
    rows = sorted(
        [
            ("a", datetime(2026, 3, 2, 10), "call_started", "greeting", "en-GB", None, None, None),
            ("b", datetime(2026, 3, 4, 10), "call_started", "greeting", "en-GB", None, None, None),
            ("c", datetime(1970, 1, 1), "call_started", "greeting", "en-GB", None, None, None),
            ("d", datetime(2027, 1, 1), "call_started", "greeting", "en-GB", None, None, None),
        ]
    )
    figs = report.from_rows(rows, now=now)
    assert figs.calls_per_day == [(date(2026, 3, 2), 1), (date(2026, 3, 3), 0), (date(2026, 3, 4), 1)]
    assert figs.ignored == 2
    asked = report.from_rows(rows, since=date(2026, 3, 3), now=now)
    assert [day for day, _ in asked.calls_per_day] == [date(2026, 3, 3), date(2026, 3, 4)]
    wide = report.from_rows(rows, since=date(1970, 1, 1), until=date(2100, 1, 1), now=now)
    days = [day for day, _ in wide.calls_per_day]
    assert days[0] == EARLIEST_EVENT.date() and days[-1] == (now + FUTURE_SLACK).date()
    assert len(days) == (days[-1] - days[0]).days + 1 < 2500


def test_time_to_transfer_is_never_negative_when_the_clock_went_back() -> None:
    start = datetime(2026, 3, 2, 10)
    rows = [
        ("a", start, "call_started", "greeting", "en-GB", None, None, None),
        ("a", start - timedelta(hours=1), "transfer_attempted", "refuge_transfer", "en-GB", None, None, None),
    ]
    figs = report.from_rows(rows, now=start)
    assert figs.transfers_attempted == 1 and figs.seconds_to_first_transfer == []


def walk(app) -> Call:
    """Walk a call through the menus, a busy transfer, a wrong key and an answered transfer."""
    call = Call(app, TOKEN)
    call.start()
    for key in ("1", "2", "1"):
        call.press(key)
    call.dial_outcome("busy")
    call.press("8")
    call.press("0")
    call.dial_outcome("answered")
    call.hang_up(95)
    assert all(turn.status == 200 for turn in call.turns)
    return call


def journey_figures(app) -> tuple[object, ...]:
    """Return what the report says of the calls stored, all but their times."""
    store = store_of(app)
    assert store.flush(10)
    figs = report.figures(store.engine)
    return (figs.calls, figs.events, figs.nodes, sorted(figs.edges), figs.menus, figs.transfer_outcomes)


def test_a_call_keeps_its_order_when_the_clock_steps_back_mid_call(
    journey_app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    walk(journey_app)
    expected = journey_figures(journey_app)
    store = store_of(journey_app)
    with store.engine.begin() as connection:
        connection.execute(delete(events))

    real = time.time
    call = Call(journey_app, TOKEN)
    call.start()
    call.press("1")
    call.press("2")
    monkeypatch.setattr(time, "time", lambda: real() - 3600)  # NTP steps the clock back an hour
    call.press("1")
    call.dial_outcome("busy")
    call.press("8")
    call.press("0")
    call.dial_outcome("answered")
    call.hang_up(95)
    monkeypatch.setattr(time, "time", real)
    assert journey_figures(journey_app) == expected
    assert "clock fault: the system clock reads" in caplog.text


def test_events_keep_the_order_they_were_recorded_in_whatever_the_clock_says(
    journey_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_of(journey_app)
    clock = [time.time()]

    def backwards() -> float:
        clock[0] -= 5  # every reading five seconds before the last
        return clock[0]

    monkeypatch.setattr(time, "time", backwards)
    for event, node in [
        ("call_started", "greeting"),
        ("entered", "greeting"),
        ("entered", "main_menu"),
        ("key", "main_menu"),
        ("entered", "danger"),
        ("entered", "goodbye"),
    ]:
        store.record("CA1", event, node=node, lang="en-GB", key="1" if event == "key" else None)
    assert store.flush(10)
    monkeypatch.undo()
    figs = report.figures(store.engine)
    assert sorted(figs.edges) == [
        ("danger", "goodbye", 1),
        ("greeting", "main_menu", 1),
        ("main_menu", "danger", 1),
    ]
    assert [n.ended for n in figs.nodes if n.node == "goodbye"] == [1]
    with store.engine.connect() as connection:
        rows = connection.execute(select(events.c.at, events.c.seq).order_by(events.c.id)).all()
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert [r.at for r in rows] == sorted((r.at for r in rows), reverse=True)  # `at` says what the clock said


def test_an_older_table_without_seq_still_reports_and_gains_it_on_upgrade(
    store_url: str, app_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = MetaData()
    table = Table(
        "journey_events",
        old,
        *(Column(c.name, c.type, primary_key=c.primary_key) for c in events.columns if c.name != "seq"),
    )
    engine = create_engine(store_url)
    old.create_all(engine)
    start = datetime(2026, 3, 2, 10)
    with engine.begin() as connection:
        connection.execute(
            table.insert(),
            [{"call_key": k, "at": at, "event": e, "node": n} for k, at, e, n in a_call("k", start)],
        )
    figs = report.figures(engine, now=start)
    assert figs.calls == 1 and sorted(figs.edges) == [
        ("greeting", "main_menu", 1),
        ("main_menu", "danger", 1),
    ]
    engine.dispose()
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    app = create_app({**app_config, "DATABASE_URL": store_url, "JOURNEYS": 0})
    result = app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "journey_events.seq" in result.output and "journey_losses" in result.output
    engine = services(app).engine
    assert "seq" in {c["name"] for c in inspect(engine).get_columns("journey_events")}
    assert report.figures(engine, now=start).edges == figs.edges
    engine.dispose()
