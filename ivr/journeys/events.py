"""The journey vocabulary: which events a call's steps make, and the words they may carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..flow import Flow

DEFAULT_RETENTION_DAYS = 90
# The dates a stored event can truly have: none before the line existed, none more than a day
# ahead of now. Outside them the clock was wrong when the event was stamped: reports ignore such
# events (and say how many), `ivr journeys purge` deletes them.
EARLIEST_EVENT = datetime(2020, 1, 1)
FUTURE_SLACK = timedelta(days=1)
# Marks a call played in the console's simulator (or `ivr simulate`): figures leave such calls out.
SIMULATED = "simulated"
EVENTS = frozenset(
    {
        "call_started",
        "entered",
        "key",
        "invalid",
        "silence",
        "silence_limit",
        "invalid_limit",
        "unknown_node",
        "language",
        "slow",
        "transfer_attempted",
        "transfer_answered",
        "transfer_failed",
        "ended",
        SIMULATED,
    }
)
KEYS = frozenset("0123456789*#?")
# CallStatus values that mean a call is over; Twilio may also send ringing/answered callbacks.
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
Event = tuple[str, dict[str, Any]]


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime, the form stored in every dialect."""
    return datetime.now(UTC).replace(tzinfo=None)


def step_events(
    flow: Flow, node: str, event: str, lang: str, key: str | None, at: str | None, outcome: str | None
) -> list[Event]:
    """Return the events one webhook answer makes: what happened at `at`, then the node entered.

    A key pressed during a message that goes straight on (the greeting) is meant for the next
    menu, so it is counted there, after entering it. Entering a transfer node is an attempt.
    """
    events_out: list[Event] = []

    def add(kind: str, where: str | None, **more: Any) -> None:
        known = where if where is not None and where in flow.nodes else None
        events_out.append((kind, {"node": known, "lang": lang, **more}))

    if event != "entered":
        where = at or node
        here = flow.nodes.get(where)
        if key and here is not None and here.next and key not in flow.global_keys:
            where = here.next
            add("entered", where)
        add(event, where, key=key, outcome=outcome)
    add("entered", node)
    target = flow.nodes.get(node)
    if target is not None and target.kind == "transfer":
        add("transfer_attempted", node)
    return events_out
