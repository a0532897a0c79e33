"""What one stored journey event is (a row of `tables.events`): the words it may hold, its order.

Time: `at` is the wall clock when the step happened; `seq` orders a call's events. It is the same
clock in microseconds, but never going back within a process (the writer numbers events in the
order they were queued), so a clock stepped back mid-call cannot reorder a call's steps.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from datetime import UTC, datetime

from .events import EARLIEST_EVENT, KEYS

log = logging.getLogger(__name__)

NODE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
LANG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
OUTCOME = re.compile(r"[a-z][a-z-]{0,19}")
# Defence in depth: whatever a caller of `record` passes, no run of digits that could be part of
# a phone number is ever stored in a text column.
DIGIT_RUN = re.compile(r"\d{4,}")
# A step back of the wall clock this big (in microseconds) between two events is logged as a clock fault.
CLOCK_STEP_US = 1_000_000
EARLIEST_US = int(EARLIEST_EVENT.replace(tzinfo=UTC).timestamp() * 1_000_000)

# A queued event: the raw CallSid lives only in memory, until the writer hashes it.
Pending = tuple[str, float, str, object, object, object, object, object]
Row = tuple[str, datetime, str, str | None, str | None, str | None, str | None, int | None]
COLUMNS = ("call_key", "at", "event", "node", "lang", "key", "outcome", "duration")
# What the writer stores: a Row and its `seq`, with `at` still as seconds since 1970 (see `at_text`).
Stored = tuple[str, float, str, str | None, str | None, str | None, str | None, int | None, int]
STORED = (*COLUMNS, "seq")


@functools.lru_cache(maxsize=4096)
def _clean(value: str, pattern: re.Pattern[str]) -> str:
    """Return value if it is a plain word of its kind and holds no run of digits, else '?'."""
    return value if pattern.fullmatch(value) and not DIGIT_RUN.search(value) else "?"


def _word(value: object, pattern: re.Pattern[str]) -> str | None:
    return None if value is None or value == "" else _clean(str(value), pattern)


def stored(call_key: str, queued: Pending, seq: int) -> Stored:
    """Return the row stored for a queued event: only plain words, never a run of digits."""
    _, stamp, event, node, lang, key, outcome, duration = queued
    try:
        words = _words(node, lang, key, outcome)
    except TypeError:  # a value that cannot be a cache key: cleaned all the same
        words = _words.__wrapped__(node, lang, key, outcome)
    return (
        call_key,
        stamp,
        event,
        *words,
        duration if type(duration) is int and 0 <= duration < 10**7 else None,
        seq,
    )


# A line has few nodes, languages and keys: an event's words are cleaned once, then looked up.
# `typed`, so that 1 and True (equal as keys) are cleaned each as itself.
@functools.lru_cache(maxsize=4096, typed=True)
def _words(
    node: object, lang: object, key: object, outcome: object
) -> tuple[str | None, str | None, str | None, str | None]:
    return (
        _word(node, NODE),
        _word(lang, LANG),
        key if isinstance(key, str) and key in KEYS else ("?" if key else None),
        _word(outcome, OUTCOME),
    )


def at_datetime(stamp: float) -> datetime:
    """Return a stored event's `at` as the naive UTC datetime every dialect stores."""
    return datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)


@functools.lru_cache(maxsize=64)
def _second_text(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d %H:%M:%S")


def at_text(stamp: float) -> str:
    """Return `at` as SQLite stores a DateTime ('2026-11-29 22:21:29.151000'), cheaply: events of
    one second share its text, so only the microseconds are formatted for each."""
    second, micros = divmod(round(stamp * 1_000_000), 1_000_000)
    return f"{_second_text(second)}.{micros:06d}"


class Sequence:
    """Number one process's events in the order they were queued, by a clock that never goes back."""

    def __init__(self, warn_every: float = 10.0) -> None:
        self.warn_every = warn_every
        self.last = 0
        self._warned = float("-inf")

    def next(self, stamp: float) -> int:
        """Return an event's place: its time in µs, or just after the last one's if the clock went back."""
        micros, last = int(stamp * 1_000_000), self.last
        if micros < last - CLOCK_STEP_US or micros < EARLIEST_US:
            self._clock_fault(stamp, (last - micros) / 1_000_000 if last else 0.0)
        self.last = seq = max(micros, last + 1)
        return seq

    def _clock_fault(self, stamp: float, back: float) -> None:
        now = time.monotonic()
        if now - self._warned < self.warn_every:
            return
        self._warned = now
        log.warning(
            "clock fault: the system clock reads %s%s; journey events keep their order, reports ignore "
            "impossible dates (check NTP)",
            datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds"),
            f", {back:.0f} s before the previous journey event" if back > 0 else "",
        )
