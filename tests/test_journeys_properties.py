"""Properties over any input: stored values never carry a number, figures always add up."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from ivr.journeys import charts, report
from ivr.journeys.events import EVENTS
from ivr.journeys.store import JourneyStore

ANY = st.one_of(
    st.none(), st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.lists(st.text())
)
DIGIT_RUN = re.compile(r"\d{4,}")
STORE = JourneyStore(lambda: create_engine("sqlite://"), "secret")
STORE._start_writer = lambda: None  # type: ignore[method-assign]  # look at the rows, write none


@settings(max_examples=200, deadline=None)
@given(
    sid=st.text(min_size=1, max_size=40),
    event=st.sampled_from(sorted(EVENTS)),
    node=ANY,
    lang=ANY,
    key=ANY,
    outcome=ANY,
    duration=ANY,
)
def test_whatever_is_recorded_no_stored_text_carries_digits(
    sid, event, node, lang, key, outcome, duration
) -> None:
    store = STORE
    store._pending.clear()
    assert store.record(sid, event, node=node, lang=lang, key=key, outcome=outcome, duration=duration)
    [row] = store._rows(list(store._pending))
    store._pending.clear()  # nothing left for the exit's flush to count as lost
    call_key, _at, stored_event, *texts, stored_duration, seq = row
    assert type(seq) is int and seq == store._sequence.last
    assert re.fullmatch(r"[0-9a-f]{64}", call_key) and call_key == store.call_key(sid)
    assert stored_event == event
    for value in texts:
        assert value is None or (isinstance(value, str) and len(value) <= 64 and not DIGIT_RUN.search(value))
    assert stored_duration is None or (type(stored_duration) is int and 0 <= stored_duration < 10**7)


STEP = st.tuples(
    st.sampled_from(sorted(EVENTS)),
    st.sampled_from([None, "greeting", "main_menu", "help_menu", "refuge_transfer", "goodbye"]),
    st.sampled_from([None, "1", "2", "0", "*", "#", "?"]),
    st.sampled_from([None, "completed", "busy", "no-answer"]),
    st.one_of(st.none(), st.integers(0, 3600)),
    st.sampled_from(["en-GB", "pl"]),
)


@settings(max_examples=100, deadline=None)
@given(calls=st.lists(st.lists(STEP, min_size=1, max_size=25), min_size=1, max_size=12))
def test_figures_always_add_up(calls) -> None:
    rows = []
    start = datetime(2026, 5, 1)
    for number, steps in enumerate(calls):
        for second, (event, node, key, outcome, duration, lang) in enumerate(steps):
            at = start + timedelta(hours=7 * number, seconds=second)
            rows.append((f"{number:064d}", at, event, node, lang, key, outcome, duration))
    figs = report.from_rows(rows)
    assert figs.calls == len(calls)
    assert figs.events == len(rows)
    assert sum(count for _, count in figs.calls_per_day) == figs.calls
    assert sum(n.ended for n in figs.nodes) == figs.calls  # every call ends in exactly one place
    assert all(0 <= n.reached <= figs.calls and n.ended <= figs.calls for n in figs.nodes)
    assert sum(figs.languages.values()) == figs.calls
    assert figs.calls_with_transfer <= min(figs.calls, figs.transfers_attempted)
    attempts = sum(1 for _, _, event, *_ in rows if event == "transfer_attempted")
    assert figs.transfers_attempted == attempts
    assert all(seconds >= 0 for seconds in figs.seconds_to_first_transfer)
    for chart in (charts.svg_funnel, charts.svg_flow, charts.svg_calls_per_day, charts.svg_menus):
        assert chart(figs).startswith("<svg")
    assert report.to_csv(figs).startswith("figure,item,detail,value")
