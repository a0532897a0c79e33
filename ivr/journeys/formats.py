"""The figures as text (`ivr report`) and as CSV (`ivr report --csv`, the admin download)."""

from __future__ import annotations

import csv
import io

from .events import EARLIEST_EVENT
from .losses import REASONS
from .model import Figures


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
    row("events_ignored", "impossible_date", "", figs.ignored)
    for reason, count in _lost(figs).items():
        row("events_lost", reason, "", count)
    row("events_lost", "all", "", figs.lost_total)
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


def _lost(figs: Figures) -> dict[str, int]:
    """Return the events lost per reason, every reason named."""
    return {**dict.fromkeys(REASONS, 0), **figs.lost}


def _quality(figs: Figures) -> list[str]:
    """Return the lines that say what the figures leave out: events lost, events with impossible dates."""
    lost = ", ".join(f"{reason} {n}" for reason, n in _lost(figs).items() if n)
    lines = [
        f"Events lost by the store (never written, not in these figures): {figs.lost_total}"
        + (f" ({lost})" if lost else "")
    ]
    if figs.ignored:
        lines.append(
            f"Events ignored for an impossible date (before {EARLIEST_EVENT.date()} or over a day ahead: "
            f"a clock fault), in the whole store: {figs.ignored}"
        )
    return lines


def _pct(figs: Figures, count: int) -> str:
    return f"{100 * figs.share(count):5.1f}%"


def to_text(figs: Figures) -> str:
    """Return the figures as the plain-text report `ivr report` prints."""
    period = f"{figs.since or 'the start'} to {figs.until or 'now'}"
    lines = [f"Call journeys, {period}: {figs.calls} call(s), {figs.events} event(s)", *_quality(figs), ""]
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
