"""Lost journey events: counted per reason, logged when an outage begins and when it ends, and kept.

An event is lost when the queue is full (`queue_full`), when the store fails the batch it was in
(`store_failed`) or when the process exits before it was written (`shutdown`). An outage runs from
the first loss to the first successful write that leaves the queue less than half full (so a store
that is merely slow makes one outage, not one per batch). Its first loss logs a line, a long one
logs again at most every `warn_every` seconds, and its end logs the exact number lost, per reason.
That end is also written to `journey_losses` (`tables.losses`), in the same transaction as the
batch that ended it, for `ivr report`. Losses at exit cannot reach the store: the last log line says how many.

Counts hold no caller data: a reason is one of `REASONS`, a detail names only an error's type.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import metrics
from .events import utcnow

log = logging.getLogger(__name__)

REASONS = ("queue_full", "store_failed", "shutdown")
TABLE = "journey_losses"  # where an ended outage is kept: `tables.losses`


@dataclass
class Outage:
    """The events lost since a first loss that no successful write has yet followed."""

    began: datetime
    started: float
    lost: Counter[str] = field(default_factory=Counter)
    error: str = ""  # what the store last said when it failed a batch

    @property
    def total(self) -> int:
        """Return how many events this outage lost."""
        return sum(self.lost.values())

    def said(self) -> str:
        """Return the store's last error as the end of a log line, if it failed a batch."""
        return f"; the store said {self.error}" if self.error else ""


@dataclass(frozen=True)
class Ending:
    """What a write that ends an outage records: the outage, and what it had lost when the write began."""

    outage: Outage
    ended: datetime
    lost: dict[str, int]

    def rows(self) -> list[dict[str, Any]]:
        """Return the `journey_losses` rows of this outage, one a reason."""
        began = self.outage.began
        return [
            {"began": began, "ended": self.ended, "reason": reason, "lost": n}
            for reason, n in self.lost.items()
            if n
        ]


def by_reason(lost: dict[str, int]) -> str:
    """Name the counts of the reasons that lost something: `queue_full=3, store_failed=1000`."""
    return ", ".join(f"{reason}={n}" for reason, n in sorted(lost.items()) if n) or "none"


class Losses:
    """Count one process's lost events per reason and tell the log when outages begin and end."""

    def __init__(self, warn_every: float = 10.0) -> None:
        self.warn_every = warn_every
        self.by_reason: dict[str, int] = dict.fromkeys(REASONS, 0)
        self.outage: Outage | None = None
        self._lock = threading.Lock()
        self._last_warning = float("-inf")

    @property
    def total(self) -> int:
        """Return how many events this process lost, for every reason."""
        return sum(self.by_reason.values())

    def count(self, n: int, reason: str, detail: str = "") -> None:
        """Count n lost events; log an outage's first loss, then at most every `warn_every` seconds."""
        if n <= 0:
            return
        metrics.JOURNEY_EVENTS_DROPPED.labels(reason).inc(n)
        with self._lock:
            self.by_reason[reason] += n
            began = self.outage is None
            outage = self.outage = self.outage or Outage(utcnow(), time.monotonic())
            outage.lost[reason] += n
            if reason == "store_failed":
                outage.error = detail
            now = time.monotonic()
            if not began and now - self._last_warning < self.warn_every:
                return
            self._last_warning = now
            so_far, seconds, counts, said = (
                outage.total,
                now - outage.started,
                by_reason(outage.lost),
                outage.said(),
            )
        if began:
            log.warning(
                "journey events dropped: an outage began, %d event(s) lost (%s: %s); calls go on, every loss "
                "is counted",
                n,
                reason,
                detail,
            )
        else:
            log.warning(
                "journey events dropped: the outage goes on, %d event(s) lost so far in %.0f s (%s)%s",
                so_far,
                seconds,
                counts,
                said,
            )

    def ending(self, queue_small: bool) -> Ending | None:
        """Return what a write would end the outage with, if there is one and the queue is small."""
        with self._lock:
            if self.outage is None or not queue_small:
                return None
            return Ending(self.outage, utcnow(), dict(self.outage.lost))

    def ended(self, ending: Ending) -> None:
        """Close the outage a successful write ended; losses counted during that write open the next."""
        with self._lock:
            outage = self.outage
            if outage is not ending.outage:
                return  # the exit line has already told this outage's losses
            rest = outage.lost - Counter(ending.lost)
            self.outage = Outage(utcnow(), time.monotonic(), rest, outage.error) if rest else None
            seconds = time.monotonic() - outage.started
        log.warning(
            "journey store back after %.1f s: %d event(s) lost in this outage (%s), recorded in %s%s",
            seconds,
            sum(ending.lost.values()),
            by_reason(ending.lost),
            TABLE,
            outage.said(),
        )
        if rest:
            log.warning(
                "journey events dropped: an outage began, %d event(s) lost (%s) while the last one ended",
                sum(rest.values()),
                by_reason(rest),
            )

    def at_exit(self, unwritten: int) -> None:
        """Count the events the process exits without writing (`shutdown`) and log the last line."""
        with self._lock:
            if unwritten:
                self.by_reason["shutdown"] += unwritten
                self.outage = self.outage or Outage(utcnow(), time.monotonic())
                self.outage.lost["shutdown"] += unwritten
            outage, self.outage = self.outage, None
            total, counts = self.total, by_reason(self.by_reason)
        if outage is not None:
            log.warning(
                "journey store at exit: %d event(s) still queued or being written are lost; %d event(s) "
                "lost in this outage (%s), not recorded in the store%s",
                unwritten,
                outage.total,
                by_reason(outage.lost),
                outage.said(),
            )
        elif total:
            log.info(
                "journey store at exit: nothing left unwritten; this process lost %d earlier (%s)",
                total,
                counts,
            )

    def recovered(self, n: int) -> None:
        """Take back events counted lost at exit that the writer stored after all."""
        with self._lock:
            self.by_reason["shutdown"] -= n
        log.warning("journey store at exit: %d of the events counted lost were written after all", n)

    def health(self) -> dict[str, Any]:
        """Return the loss counts and the outage going on, if any, as plain JSON values."""
        with self._lock:
            outage = self.outage
            return {
                "dropped": self.total,
                "dropped_by_reason": dict(self.by_reason),
                "outage": None
                if outage is None
                else {
                    "since": outage.began.isoformat(timespec="seconds") + "Z",
                    "seconds": round(time.monotonic() - outage.started, 1),
                    "lost": outage.total,
                    "lost_by_reason": {reason: outage.lost[reason] for reason in REASONS},
                },
            }
