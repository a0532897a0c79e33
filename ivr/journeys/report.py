"""Figures from journey events: where callers go, where they give up, whether transfers connect.

The admin page and `ivr report` share this API:

    figs = report.figures(engine, since=date(2026, 1, 1), flow=flow)
    report.to_csv(figs)          # CSV text, one figure a row
    report.to_text(figs)         # the plain-text report `ivr report` prints

and `ivr.journeys.charts` draws them as SVG.

Time: events dated before `EARLIEST_EVENT` (2020-01-01) or more than `FUTURE_SLACK` (a day) ahead
of now were stamped by a wrong clock: they are left out of every figure and counted in `ignored`.
A call's events are taken in their stored order (`seq`), not by their times, so a clock stepped back
mid-call cannot reorder its steps; calls per day lists only days inside both the period asked and
the dates an event can have. Events the store lost (`journey_losses`) are shown per reason.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, func, inspect, select

from ..flow import Flow
from .events import EARLIEST_EVENT, FUTURE_SLACK, SIMULATED, utcnow
from .formats import to_csv, to_text
from .losses import REASONS
from .model import Figures, MenuKeys, NodeCount
from .rows import COLUMNS, Row
from .tables import events, losses, lost_between

__all__ = [
    "COLUMNS",
    "Figures",
    "MenuKeys",
    "NodeCount",
    "figures",
    "from_rows",
    "to_csv",
    "to_text",
]

# How a transfer outcome is named in figures: Twilio's DialCallStatus "completed" means answered.
OUTCOME_NAMES = {"completed": "answered", "answered": "answered"}
NO_OUTCOME = "no outcome"


def figures(
    engine: Engine,
    since: date | None = None,
    until: date | None = None,
    flow: Flow | None = None,
    now: datetime | None = None,
    simulated: bool = False,
) -> Figures:
    """Read the events of calls from `since` through `until` (UTC days) and compute the figures.

    Calls played in the simulator (marked by a `simulated` event) are left out unless `simulated`.
    """
    now = now or utcnow()
    inspector = inspect(engine)
    if not inspector.has_table(events.name):
        return from_rows([], since, until, flow, now=now)
    valid = events.c.at.between(EARLIEST_EVENT, now + FUTURE_SLACK)
    # A call's steps in the order they were recorded (`seq`; rows from before it existed have none).
    has_seq = "seq" in {column["name"] for column in inspector.get_columns(events.name)}
    order = [events.c.call_key, *([events.c.seq.nulls_first()] if has_seq else []), events.c.at, events.c.id]
    query = select(*(events.c[name] for name in COLUMNS)).where(valid).order_by(*order)
    if since is not None or until is not None:
        # Whole calls, by when they started: a call that runs past midnight keeps its end.
        started = func.min(events.c.at)
        calls = select(events.c.call_key).where(valid).group_by(events.c.call_key)
        if since is not None:
            calls = calls.having(started >= datetime.combine(since, time.min))
        if until is not None:
            calls = calls.having(started < datetime.combine(until + timedelta(days=1), time.min))
        query = query.where(events.c.call_key.in_(calls))
    if not simulated:
        played = select(events.c.call_key).where(events.c.event == SIMULATED)
        query = query.where(events.c.call_key.not_in(played))
    with engine.connect() as connection:
        ignored = connection.execute(select(func.count()).select_from(events).where(~valid)).scalar_one()
        lost = lost_between(connection, since, until) if inspector.has_table(losses.name) else {}
        result = connection.execution_options(yield_per=5000).execute(query)
        figs = from_rows((tuple(row) for row in result), since, until, flow, now=now)  # type: ignore[misc]
    figs.ignored += int(ignored)
    figs.lost = {**dict.fromkeys(REASONS, 0), **lost}
    return figs


def from_rows(
    rows: Iterable[Row],
    since: date | None = None,
    until: date | None = None,
    flow: Flow | None = None,
    now: datetime | None = None,
) -> Figures:
    """Compute figures from event rows grouped by call key, each call's in step order (`figures`' core).

    Rows with an impossible date are left out and counted in `ignored`.
    """
    now = now or utcnow()
    latest = now + FUTURE_SLACK
    figs = Figures(since, until)
    per_day: Counter[date] = Counter()
    reached: Counter[str] = Counter()
    ended_at: Counter[str] = Counter()
    edges: Counter[tuple[str, str]] = Counter()
    menus: dict[str, MenuKeys] = {}
    statuses: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    for _, call in itertools.groupby(rows, key=lambda row: row[0]):
        every = list(call)
        call_rows = [row for row in every if EARLIEST_EVENT <= row[1] <= latest]
        figs.ignored += len(every) - len(call_rows)
        if not call_rows:
            continue
        figs.calls += 1
        figs.events += len(call_rows)
        _one_call(call_rows, figs, per_day, reached, ended_at, edges, menus, statuses, outcomes, languages)
    order = _node_order(flow, reached, ended_at, menus)
    figs.calls_per_day = _days(per_day, since, until, latest.date())
    figs.nodes = [
        NodeCount(node, reached[node], ended_at[node]) for node in order if reached[node] or ended_at[node]
    ]
    figs.edges = sorted(((a, b, n) for (a, b), n in edges.items()), key=lambda e: (-e[2], e[0], e[1]))
    figs.menus = [menus[node] for node in order if node in menus]
    figs.end_statuses = dict(statuses.most_common())
    figs.transfer_outcomes = dict(outcomes.most_common())
    figs.languages = dict(languages.most_common())
    return figs


def _one_call(
    rows: list[Row],
    figs: Figures,
    per_day: Counter[date],
    reached: Counter[str],
    ended_at: Counter[str],
    edges: Counter[tuple[str, str]],
    menus: dict[str, MenuKeys],
    statuses: Counter[str],
    outcomes: Counter[str],
    languages: Counter[str],
) -> None:
    start = rows[0][1]
    # The day a call started is its earliest event's, as `figures` selects calls for a period.
    per_day[min(row[1] for row in rows).date()] += 1
    seen: set[str] = set()
    last: str | None = None
    lang: str | None = None
    attempts = answered_or_failed = 0
    for _, at, event, node, row_lang, key, outcome, duration in rows:
        lang = row_lang or lang
        if event == "call_started":
            start = at
        elif event == "entered" and node:
            seen.add(node)
            if last and last != node:
                edges[(last, node)] += 1
            last = node
        elif event in ("key", "invalid", "silence", "silence_limit", "invalid_limit") and node:
            menu = menus.setdefault(node, MenuKeys(node))
            if event == "key" and key:
                menu.keys[key] = menu.keys.get(key, 0) + 1
            elif event == "invalid" and key:
                menu.invalid[key] = menu.invalid.get(key, 0) + 1
            elif event == "silence":
                menu.silences += 1
            elif event in ("silence_limit", "invalid_limit"):
                menu.gave_up += 1
                if key:
                    menu.invalid[key] = menu.invalid.get(key, 0) + 1
                else:
                    menu.silences += 1
        elif event == "transfer_attempted":
            if attempts == 0 and at >= start:  # a clock stepped back mid-call gives no true figure
                figs.seconds_to_first_transfer.append((at - start).total_seconds())
            attempts += 1
        elif event in ("transfer_answered", "transfer_failed"):
            answered_or_failed += 1
            word = outcome or ("answered" if event == "transfer_answered" else "failed")
            outcomes[OUTCOME_NAMES.get(word, word)] += 1
        elif event == "ended":
            statuses[outcome or "unknown"] += 1
            if duration is not None:
                figs.call_seconds.append(duration)
    for node in seen:
        reached[node] += 1
    ended_at[last or "(none)"] += 1
    if attempts:
        figs.transfers_attempted += attempts
        figs.calls_with_transfer += 1
        if attempts > answered_or_failed:
            outcomes[NO_OUTCOME] += attempts - answered_or_failed
    if lang:
        languages[lang] += 1


def _node_order(
    flow: Flow | None, reached: Counter[str], ended_at: Counter[str], menus: dict[str, MenuKeys]
) -> list[str]:
    """Return nodes in the flow's order (the YAML's), then any others by how many calls reached them."""
    known = list(flow.nodes) if flow is not None else []
    others = sorted(set(reached) | set(ended_at) | set(menus))
    others = [n for n in others if n not in known]
    others.sort(key=lambda n: -reached[n])
    return known + others


def _days(
    per_day: Counter[date], since: date | None, until: date | None, latest: date
) -> list[tuple[date, int]]:
    """Return calls for every day of the range, days without calls included.

    The range is the period asked, its open ends closed by the first and last days with calls,
    and never beyond the days an event can have (from `EARLIEST_EVENT` to `latest`).
    """
    if not per_day and (since is None or until is None):
        return []
    first = max(since or min(per_day), EARLIEST_EVENT.date())
    last = min(until or max(per_day), latest)
    return [(day, per_day[day]) for day in _each_day(first, last)]


def _each_day(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
