"""Figures from journey events: where callers go, where they give up, whether transfers connect.

The admin page and `ivr report` share this API:

    figs = report.figures(engine, since=date(2026, 1, 1), flow=flow)
    report.to_csv(figs)          # CSV text, one figure a row
    report.to_text(figs)         # the plain-text report `ivr report` prints

and `ivr.journeys.charts` draws them as SVG.
"""

from __future__ import annotations

import csv
import io
import itertools
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, func, inspect, select

from ..flow import Flow
from .store import COLUMNS, Row, events

__all__ = [
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


@dataclass(frozen=True)
class NodeCount:
    """Calls at a node: how many reached it, and how many ended there."""

    node: str
    reached: int
    ended: int


@dataclass
class MenuKeys:
    """What callers pressed at one menu: keys that were options, keys that were not, silences."""

    node: str
    keys: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    silences: int = 0
    gave_up: int = 0

    @property
    def presses(self) -> int:
        """Return every key press here, valid or not."""
        return sum(self.keys.values()) + sum(self.invalid.values())


@dataclass
class Figures:
    """Everything the report and the admin page show, for calls that started in a date range."""

    since: date | None
    until: date | None
    calls: int = 0
    events: int = 0
    calls_per_day: list[tuple[date, int]] = field(default_factory=list)
    nodes: list[NodeCount] = field(default_factory=list)
    edges: list[tuple[str, str, int]] = field(default_factory=list)
    menus: list[MenuKeys] = field(default_factory=list)
    end_statuses: dict[str, int] = field(default_factory=dict)
    transfers_attempted: int = 0
    calls_with_transfer: int = 0
    transfer_outcomes: dict[str, int] = field(default_factory=dict)
    seconds_to_first_transfer: list[float] = field(default_factory=list)
    call_seconds: list[int] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=dict)

    def share(self, count: int) -> float:
        """Return count as a share of all calls (0 when there are none)."""
        return count / self.calls if self.calls else 0.0

    @property
    def median_seconds_to_first_transfer(self) -> float | None:
        """Return the median time from answer to the first transfer attempt, in seconds."""
        return statistics.median(self.seconds_to_first_transfer) if self.seconds_to_first_transfer else None

    @property
    def median_call_seconds(self) -> float | None:
        """Return the median call duration Twilio reported, in seconds."""
        return statistics.median(self.call_seconds) if self.call_seconds else None


def figures(
    engine: Engine, since: date | None = None, until: date | None = None, flow: Flow | None = None
) -> Figures:
    """Read the events of calls from `since` through `until` (UTC days) and compute the figures."""
    if not inspect(engine).has_table(events.name):
        return from_rows([], since, until, flow)
    query = select(*(events.c[name] for name in COLUMNS)).order_by(
        events.c.call_key, events.c.at, events.c.id
    )
    if since is not None or until is not None:
        # Whole calls, by when they started: a call that runs past midnight keeps its end.
        started = func.min(events.c.at)
        calls = select(events.c.call_key).group_by(events.c.call_key)
        if since is not None:
            calls = calls.having(started >= datetime.combine(since, time.min))
        if until is not None:
            calls = calls.having(started < datetime.combine(until + timedelta(days=1), time.min))
        query = query.where(events.c.call_key.in_(calls))
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=5000).execute(query)
        return from_rows((tuple(row) for row in result), since, until, flow)  # type: ignore[misc]


def from_rows(
    rows: Iterable[Row], since: date | None = None, until: date | None = None, flow: Flow | None = None
) -> Figures:
    """Compute figures from event rows sorted by call key then time (the pure core of `figures`)."""
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
        call_rows = list(call)
        figs.calls += 1
        figs.events += len(call_rows)
        _one_call(call_rows, figs, per_day, reached, ended_at, edges, menus, statuses, outcomes, languages)
    order = _node_order(flow, reached, ended_at, menus)
    figs.calls_per_day = _days(per_day, since, until)
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
    per_day[start.date()] += 1
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
            if attempts == 0:
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


def _days(per_day: Counter[date], since: date | None, until: date | None) -> list[tuple[date, int]]:
    """Return calls for every day of the range, days without calls included."""
    if not per_day and (since is None or until is None):
        return []
    first = since or min(per_day)
    last = until or max(per_day)
    return [(day, per_day[day]) for day in _each_day(first, last)]


def _each_day(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _cell(value: object) -> str:
    """Quote a CSV cell a spreadsheet would run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(figs: Figures) -> str:
    """Return every figure as CSV rows: figure, item, detail, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["figure", "item", "detail", "value"])

    def row(figure: str, item: object = "", detail: object = "", value: object = "") -> None:
        writer.writerow([_cell(figure), _cell(item), _cell(detail), _cell(value)])

    row("period", "since", "", figs.since.isoformat() if figs.since else "")
    row("period", "until", "", figs.until.isoformat() if figs.until else "")
    row("calls", "all", "", figs.calls)
    for day, count in figs.calls_per_day:
        row("calls_per_day", day.isoformat(), "", count)
    for n in figs.nodes:
        row("node_reached", n.node, "calls", n.reached)
        row("node_reached", n.node, "share", f"{figs.share(n.reached):.4f}")
        row("node_ended", n.node, "calls", n.ended)
    for a, b, count in figs.edges:
        row("flow_edge", a, b, count)
    for menu in figs.menus:
        for key, count in sorted(menu.keys.items()):
            row("menu_key", menu.node, key, count)
        for key, count in sorted(menu.invalid.items()):
            row("menu_invalid_key", menu.node, key, count)
        row("menu_silences", menu.node, "", menu.silences)
        row("menu_gave_up", menu.node, "", menu.gave_up)
    row("transfers", "attempted", "", figs.transfers_attempted)
    row("transfers", "calls_with_transfer", "", figs.calls_with_transfer)
    for outcome, count in figs.transfer_outcomes.items():
        row("transfer_outcome", outcome, "", count)
    median = figs.median_seconds_to_first_transfer
    row("median_seconds_to_first_transfer", "", "", "" if median is None else f"{median:.1f}")
    for status, count in figs.end_statuses.items():
        row("call_end_status", status, "", count)
    call_median = figs.median_call_seconds
    row("median_call_seconds", "", "", "" if call_median is None else f"{call_median:.1f}")
    for lang, count in figs.languages.items():
        row("language", lang, "", count)
    return out.getvalue()


def _pct(figs: Figures, count: int) -> str:
    return f"{100 * figs.share(count):5.1f}%"


def to_text(figs: Figures) -> str:
    """Return the figures as the plain-text report `ivr report` prints."""
    period = f"{figs.since or 'the start'} to {figs.until or 'now'}"
    lines = [f"Call journeys, {period}: {figs.calls} call(s), {figs.events} event(s)", ""]
    if not figs.calls:
        return "\n".join([*lines, "No calls in this period."]) + "\n"
    lines.append("Calls per day")
    lines += [f"  {day.isoformat()}  {count:6d}" for day, count in figs.calls_per_day]
    lines += ["", "Nodes: calls that reached each, and calls that ended there"]
    width = max(len(n.node) for n in figs.nodes)
    for n in figs.nodes:
        lines.append(
            f"  {n.node:<{width}}  reached {n.reached:6d} {_pct(figs, n.reached)}"
            f"   ended here {n.ended:6d} {_pct(figs, n.ended)}"
        )
    lines += ["", "Keys per menu (invalid keys and silences show menus that confuse callers)"]
    for menu in figs.menus:
        keys = " ".join(f"{k}:{v}" for k, v in sorted(menu.keys.items())) or "-"
        invalid = " ".join(f"{k}:{v}" for k, v in sorted(menu.invalid.items())) or "-"
        lines.append(
            f"  {menu.node:<{width}}  keys {keys}   invalid {invalid}   silences {menu.silences}"
            f"   gave up {menu.gave_up}"
        )
    median = figs.median_seconds_to_first_transfer
    lines += [
        "",
        f"Transfers: {figs.transfers_attempted} attempted in {figs.calls_with_transfer} call(s) "
        f"({_pct(figs, figs.calls_with_transfer).strip()} of calls)",
    ]
    lines += [f"  {outcome:<12} {count:6d}" for outcome, count in figs.transfer_outcomes.items()]
    lines.append(
        "  median time from answer to first transfer: " + ("-" if median is None else f"{median:.0f} s")
    )
    call_median = figs.median_call_seconds
    lines += ["", "How calls ended (Twilio's call status)"]
    lines += [f"  {status:<12} {count:6d}" for status, count in figs.end_statuses.items()]
    lines.append("  median call length: " + ("-" if call_median is None else f"{call_median:.0f} s"))
    lines += ["", "Languages"]
    lines += [f"  {lang:<12} {count:6d} {_pct(figs, count)}" for lang, count in figs.languages.items()]
    return "\n".join(lines) + "\n"
