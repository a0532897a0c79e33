"""Anonymous call journeys: one event per webhook step, appended without ever slowing a call.

A call is known only by an HMAC-SHA256 of its CallSid keyed by the app's SECRET_KEY; no phone
number is ever written. `record` only puts a row on a bounded queue; one writer thread per
process inserts rows in batches. When the store is slow, locked or down, rows are dropped and
counted (with a rate-limited warning), never retried into a request.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import hmac
import logging
import os
import re
import threading
import time
import weakref
from collections import deque
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Engine,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    select,
)

from .. import db
from .events import EVENTS, KEYS

log = logging.getLogger(__name__)

# The writer waits this long for another process's schema change before it drops the batch.
WRITER_SCHEMA_WAIT_MS = 2000

NODE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
LANG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
OUTCOME = re.compile(r"[a-z][a-z-]{0,19}")
# Defence in depth: whatever a caller of `record` passes, no run of digits that could be part of
# a phone number is ever stored in a text column.
DIGIT_RUN = re.compile(r"\d{4,}")

events = Table(
    "journey_events",
    db.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("call_key", String(64), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("event", String(24), nullable=False),
    Column("node", String(64)),
    Column("lang", String(16)),
    Column("key", String(1)),
    Column("outcome", String(20)),
    Column("duration", Integer),
    Index("ix_journey_events_at", "at"),
    Index("ix_journey_events_call", "call_key", "at"),
)

_stores: weakref.WeakSet[JourneyStore] = weakref.WeakSet()


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime, the form stored in every dialect."""
    return datetime.now(UTC).replace(tzinfo=None)


@functools.lru_cache(maxsize=4096)
def _clean(value: str, pattern: re.Pattern[str]) -> str:
    """Return value if it is a plain word of its kind and holds no run of digits, else '?'."""
    return value if pattern.fullmatch(value) and not DIGIT_RUN.search(value) else "?"


def _word(value: object, pattern: re.Pattern[str]) -> str | None:
    return None if value is None or value == "" else _clean(str(value), pattern)


# A queued event: the raw CallSid lives only in memory, until the writer hashes it.
Pending = tuple[str, float, str, object, object, object, object, object]
Row = tuple[str, datetime, str, str | None, str | None, str | None, str | None, int | None]
COLUMNS = ("call_key", "at", "event", "node", "lang", "key", "outcome", "duration")


class JourneyStore:
    """Append journey events off the request path; read and purge them for reports."""

    def __init__(
        self,
        engine: Engine,
        secret: str | bytes,
        *,
        capacity: int = 20_000,
        batch_size: int = 1000,
        linger: float = 0.25,
        idle_seconds: float = 5.0,
        warn_every: float = 10.0,
    ) -> None:
        if not secret:
            raise ValueError("a journey store needs the app's SECRET_KEY (set IVR_SECRET_KEY)")
        self.engine = engine
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self.capacity = capacity
        self.batch_size = batch_size
        self.linger = linger
        self.idle_seconds = idle_seconds
        self.warn_every = warn_every
        self.written = 0
        self.dropped = 0
        self._schema_ready = False
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
        self._thread: threading.Thread | None = None
        self._last_warning = float("-inf")
        self._unwarned = 0

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
            self.engine.dispose(close=False)
        if not call_sid or event not in EVENTS:
            return False
        if len(self._pending) >= self.capacity:
            self._drop(1, "the queue is full (the store is slow or down)")
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

    def stats(self) -> dict[str, int]:
        """Return how many events this process wrote, dropped, and has waiting."""
        return {"written": self.written, "dropped": self.dropped, "queued": len(self._pending)}

    def ensure_schema(self, wait_ms: int = db.SCHEMA_LOCK_MS) -> None:
        """Create the tables if they are missing (idempotent)."""
        db.upgrade(self.engine, wait_ms)
        self._schema_ready = True

    def purge(self, older_than_days: int) -> int:
        """Delete events older than the given number of days; return how many went."""
        cutoff = utcnow() - timedelta(days=older_than_days)
        self.ensure_schema()
        with self.engine.begin() as connection:
            result = connection.execute(delete(events).where(events.c.at < cutoff))
        return int(result.rowcount or 0)

    def count(self) -> int:
        """Return how many events the store holds."""
        self.ensure_schema()
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(events)).scalar_one())

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
                    batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
                    try:
                        self._write(self._rows(batch))
                    except Exception as error:  # noqa: BLE001 - any store failure drops the batch, counted
                        self._drop(len(batch), f"the store failed: {describe(error)}")
            finally:
                self._busy = False
            idle_since = time.monotonic()

    def _rows(self, batch: list[Pending]) -> list[Row]:
        """Turn queued events into stored rows: hash the CallSid, keep only plain words."""
        if len(self._keys) > 10_000:
            self._keys.clear()
        rows: list[Row] = []
        for sid, stamp, event, node, lang, key, outcome, duration in batch:
            call_key = self._keys.get(sid)
            if call_key is None:
                call_key = self._keys[sid] = self.call_key(sid)
            rows.append(
                (
                    call_key,
                    datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None),
                    event,
                    _word(node, NODE),
                    _word(lang, LANG),
                    key if isinstance(key, str) and key in KEYS else ("?" if key else None),
                    _word(outcome, OUTCOME),
                    duration if type(duration) is int and 0 <= duration < 10**7 else None,
                )
            )
        return rows

    def _write(self, rows: list[Row]) -> None:
        if not self._schema_ready:
            self.ensure_schema(wait_ms=WRITER_SCHEMA_WAIT_MS)
        dialect = self.engine.dialect
        with self.engine.begin() as connection:
            if dialect.name == "sqlite":
                cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
                cursor.executemany(
                    _insert_sql(dialect), [(r[0], r[1].isoformat(" ", "microseconds"), *r[2:]) for r in rows]
                )
            elif dialect.name == "postgresql" and dialect.driver == "psycopg":
                # COPY: the cheapest way in, so the writer takes little CPU from the webhooks.
                with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                    with cursor.copy(f"COPY {events.name} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            else:
                connection.execute(events.insert(), [dict(zip(COLUMNS, row, strict=True)) for row in rows])
        self.written += len(rows)

    def _drop(self, count: int, reason: str) -> None:
        with self._lock:
            self.dropped += count
            self._unwarned += count
            now = time.monotonic()
            if now - self._last_warning < self.warn_every:
                return
            self._last_warning = now
            unwarned, self._unwarned = self._unwarned, 0
            total = self.dropped
        log.warning("journey events dropped: %d now, %d in all by this process; %s", unwarned, total, reason)


@functools.lru_cache(maxsize=8)
def _insert_sql(dialect: Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    marks = ", ".join("?" for _ in COLUMNS)
    return f"INSERT INTO {events.name} ({', '.join(quote(c) for c in COLUMNS)}) VALUES ({marks})"


def describe(error: BaseException) -> str:
    """Name an error by its type and first line, without the SQL parameters SQLAlchemy appends."""
    inner = getattr(error, "orig", None) or error
    first = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    return f"{type(inner).__name__}: {first[:200]}"


@atexit.register
def _flush_all() -> None:
    """Give queued events a moment to reach the store when the process exits."""
    for store in list(_stores):
        store.flush(timeout=2.0)
