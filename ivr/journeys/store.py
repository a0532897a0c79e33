"""Anonymous call journeys: one event per webhook step, appended without ever slowing a call.

A call is known only by an HMAC-SHA256 of its CallSid keyed by the app's SECRET_KEY; no phone
number is ever written. `record` only puts a row on a bounded queue; one writer thread per
process inserts rows in batches. When the store is slow, locked or down, rows are dropped and
counted per reason (`losses`: logged when an outage begins and when it ends, kept in
`journey_losses`), never retried into a request; at exit, what is still queued is counted and
logged too. The rows themselves, and the order a call's events keep, are `rows`'.

The store opens its database, and loads SQLAlchemy with `tables`, only when it first has a batch
to write or is asked to read or purge: a line worker starts without them.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import metrics
from ..logs import describe
from ..pauses import beside_calls
from .events import EVENTS, FUTURE_SLACK, utcnow
from .losses import Ending, Losses
from .rows import COLUMNS, Pending, Row, Sequence, Stored, stored

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .tables import Tables

__all__ = ["COLUMNS", "JourneyStore", "Purged", "Row", "utcnow"]

# The writer waits this long for another process's schema change before it drops the batch.
WRITER_SCHEMA_WAIT_MS = 2000
# Events gather this long before the writer inserts them: fewer, larger transactions. Under
# gunicorn (two workers writing one SQLite file) 2 s instead of 0.25 s cost a busy worker about
# 20 µs less CPU per webhook, measured in interleaved runs. Figures are read later anyway; a flush
# or the process exiting writes at once, and only a worker killed outright loses what had gathered.
LINGER_SECONDS = 2.0

_stores: weakref.WeakSet[JourneyStore] = weakref.WeakSet()


class Purged(NamedTuple):
    """What a purge deleted: events older than the retention, and events dated impossibly far ahead."""

    old: int
    future: int


class JourneyStore:
    """Append journey events off the request path; read and purge them for reports."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        secret: str | bytes,
        *,
        capacity: int = 20_000,
        batch_size: int = 10_000,
        linger: float = LINGER_SECONDS,
        idle_seconds: float = 5.0,
        warn_every: float = 10.0,
        exit_timeout: float = 2.0,
    ) -> None:
        if not secret:
            raise ValueError("a journey store needs the app's SECRET_KEY (set IVR_SECRET_KEY)")
        self._open = engine  # called once, when the database is first needed
        self._tables: Tables | None = None
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self.capacity = capacity
        self.batch_size = batch_size
        self.linger = linger
        self.idle_seconds = idle_seconds
        self.warn_every = warn_every
        self.exit_timeout = exit_timeout
        self.written = 0
        self._keys: dict[str, str] = {}
        self._reset()
        _stores.add(self)

    def _reset(self) -> None:
        """Start with a fresh queue, lock and no writer (at creation and in a forked child)."""
        self._pid = os.getpid()
        self._pending: deque[Pending] = deque()
        self._busy = False
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._tables_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.losses = Losses(self.warn_every)
        self._closed = False
        self._inflight = 0
        self._inflight_lost = False
        self._sequence = Sequence(self.warn_every)

    @property
    def dropped(self) -> int:
        """Return how many events this process lost, for every reason."""
        return self.losses.total

    @dropped.setter
    def dropped(self, value: int) -> None:
        """Count losses from zero again (a benchmark between rounds); only 0 may be set."""
        if value:
            raise ValueError("only 0 may be set: losses are counted, not assigned")
        self.losses = Losses(self.warn_every)

    def call_key(self, call_sid: str) -> str:
        """Return the keyed hash that stands in for a CallSid."""
        return hmac.new(self._secret, call_sid.encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    def record(
        self,
        call_sid: str,
        event: str,
        *,
        node: str | None = None,
        lang: str | None = None,
        key: str | None = None,
        outcome: str | None = None,
        duration: int | None = None,
    ) -> bool:
        """Queue one event; return False if it was not kept. Never blocks, never raises for bad values."""
        if self._pid != os.getpid():
            # A forked worker (gunicorn --preload): no writer thread came along, and the
            # parent's pooled connections must not be shared.
            self._reset()
            if self._tables is not None:
                self._tables.engine.dispose(close=False)
        if not call_sid or event not in EVENTS:
            return False
        if self._closed:
            self.losses.count(1, "shutdown", "the process is exiting")
            return False
        if len(self._pending) >= self.capacity:
            self.losses.count(1, "queue_full", "the queue is full (the store is slow or down)")
            return False
        # Only an append here: hashing, checking and writing happen on the writer thread.
        self._pending.append((str(call_sid), time.time(), event, node, lang, key, outcome, duration))
        if self._thread is None:
            self._start_writer()
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event is written or dropped; return whether that happened in time."""
        deadline = time.monotonic() + timeout
        while self._pending or self._busy:
            if time.monotonic() >= deadline:
                return False
            if self._thread is None:
                self._start_writer()
            self._wake.set()
            time.sleep(0.002)
        return True

    def close(self, timeout: float = 2.0) -> int:
        """Flush, then count what is still queued or being written as lost (`shutdown`); return how many.

        The atexit hook calls this; it logs a last line when anything was lost. Events recorded
        afterwards are counted lost at once.
        """
        if self._pid != os.getpid():
            return 0  # a forked child that recorded nothing: the parent's queue is the parent's
        if self._closed:
            return 0
        self.flush(timeout)
        with self._lock:
            self._closed = True
            lost = len(self._pending) + self._inflight
            self._inflight_lost = self._inflight > 0
            self._pending.clear()
        self.losses.at_exit(lost)
        return lost

    def stats(self) -> dict[str, Any]:
        """Return how many events this process wrote, dropped (in all and per reason) and has waiting."""
        found = self.losses.health()
        return {
            "written": self.written,
            "dropped": found["dropped"],
            "dropped_by_reason": found["dropped_by_reason"],
            "queued": len(self._pending),
            "outage": found["outage"] is not None,
        }

    def health(self) -> dict[str, Any]:
        """Return this process's figures for `/health`, as plain JSON values (no caller data)."""
        return {"written": self.written, "queued": len(self._pending), **self.losses.health()}

    @property
    def engine(self) -> Engine:
        """Return the database's engine (opened on first use)."""
        return self._database().engine

    def _database(self) -> Tables:
        """Return the journey tables on the store's engine, opening both the first time."""
        with self._tables_lock:
            if self._tables is None:
                with beside_calls():  # SQLAlchemy's many objects, made without pausing the calls
                    from .tables import Tables  # deferred on purpose: see the module's docstring

                    self._tables = Tables(self._open())
            return self._tables

    def ensure_schema(self) -> None:
        """Create the tables if they are missing (idempotent)."""
        self._database().ensure_schema()

    def purge(self, older_than_days: int) -> Purged:
        """Delete events (and loss counts) older than the given days or dated over a day ahead."""
        now = utcnow()
        return Purged(*self._database().purge(now - timedelta(days=older_than_days), now + FUTURE_SLACK))

    def count(self) -> int:
        """Return how many events the store holds."""
        return self._database().count()

    def _start_writer(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="journey-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            # Let events gather for a moment: one insert of many rows costs far less than many.
            self._wake.wait(self.linger)
            self._wake.clear()
            if not self._pending:
                if time.monotonic() - idle_since < self.idle_seconds:
                    continue
                with self._lock:
                    # Exit when idle; `record` starts a new writer if it sees none.
                    self._thread = None
                    if not self._pending:
                        return
                    self._thread = threading.current_thread()
                continue
            self._busy = True
            try:
                while self._pending:
                    self._write_batch()
            finally:
                self._busy = False
            idle_since = time.monotonic()

    def _write_batch(self) -> None:
        """Write one batch; count it lost if the store fails, and end the outage if the queue is small."""
        with self._lock:
            batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
            self._inflight = len(batch)
            ending: Ending | None = self.losses.ending(len(self._pending) < self.capacity / 2)
        error: Exception | None = None
        try:
            self._write(self._rows(batch), ending.rows() if ending else [])
        except Exception as exc:  # noqa: BLE001 - any store failure drops the batch, counted
            error = exc
        with self._lock:
            self._inflight = 0
            counted_at_exit, self._inflight_lost = self._inflight_lost, False
            if error is None:
                self.written += len(batch)
                metrics.JOURNEY_EVENTS_WRITTEN.inc(len(batch))
        if counted_at_exit:
            if error is None:
                self.losses.recovered(len(batch))
        elif error is not None:
            self.losses.count(len(batch), "store_failed", describe(error))
        elif ending is not None:
            self.losses.ended(ending)

    def _rows(self, batch: list[Pending]) -> list[Stored]:
        """Turn queued events into stored rows: hash the CallSid, keep only plain words, number them."""
        if len(self._keys) > 10_000:
            self._keys.clear()
        rows: list[Stored] = []
        for queued in batch:
            sid, stamp = queued[0], queued[1]
            call_key = self._keys.get(sid)
            if call_key is None:
                call_key = self._keys[sid] = self.call_key(sid)
            rows.append(stored(call_key, queued, self._sequence.next(stamp)))
        return rows

    def _write(self, rows: list[Stored], lost: list[dict[str, Any]]) -> None:
        """Insert the rows (and an ended outage's losses) in one transaction."""
        self._database().write(rows, lost, WRITER_SCHEMA_WAIT_MS)


@atexit.register
def _flush_all() -> None:
    """Give queued events a moment to reach the store when the process exits; count and log the rest."""
    for store in list(_stores):
        store.close(store.exit_timeout)
