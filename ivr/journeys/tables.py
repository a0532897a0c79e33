"""The journey tables, and every statement the store makes on them (SQLAlchemy).

`journey_events` holds one row a step (see `rows` for what a row may hold and the order a call's
events keep); `journey_losses` one row a reason for each outage that ended (see `losses`). A line
worker loads this module, and SQLAlchemy with it, when its journey writer first has a batch to
store: the webhooks never need it.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    or_,
    select,
)

from .. import db
from .losses import REASONS, TABLE
from .rows import STORED, Stored, at_datetime, at_text

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
    # The call's order: microseconds since 1970 that never go back within a process (see `rows`).
    Column("seq", BigInteger),
    Index("ix_journey_events_at", "at"),
    Index("ix_journey_events_call", "call_key", "at"),
)

losses = Table(
    TABLE,
    db.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("began", DateTime(), nullable=False),
    Column("ended", DateTime(), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("lost", Integer, nullable=False),
    Index("ix_journey_losses_began", "began"),
)


class Tables:
    """The journey tables on one engine: their schema, the writer's insert, purge and count."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.schema_ready = False

    def ensure_schema(self, wait_ms: int = db.SCHEMA_LOCK_MS) -> None:
        """Create the tables if they are missing (idempotent)."""
        db.upgrade(self.engine, wait_ms)
        self.schema_ready = True

    def write(self, rows: list[Stored], lost: list[dict[str, Any]], schema_wait_ms: int) -> None:
        """Insert the rows (and an ended outage's losses) in one transaction."""
        if not self.schema_ready:
            self.ensure_schema(wait_ms=schema_wait_ms)
        dialect = self.engine.dialect
        with self.engine.begin() as connection:
            if dialect.name == "sqlite":
                cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
                cursor.executemany(insert_sql(dialect), [(r[0], at_text(r[1]), *r[2:]) for r in rows])
            elif dialect.name == "postgresql" and dialect.driver == "psycopg":
                # COPY: the cheapest way in, so the writer takes little CPU from the webhooks.
                with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                    with cursor.copy(f"COPY {events.name} ({', '.join(STORED)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row((row[0], at_datetime(row[1]), *row[2:]))
            else:
                connection.execute(
                    events.insert(),
                    [dict(zip(STORED, (r[0], at_datetime(r[1]), *r[2:]), strict=True)) for r in rows],
                )
            if lost:
                connection.execute(losses.insert(), lost)

    def purge(self, cutoff: datetime, ahead: datetime) -> tuple[int, int]:
        """Delete events (and loss counts) before `cutoff` or after `ahead`; return the events deleted."""
        self.ensure_schema()
        with self.engine.begin() as connection:
            old = connection.execute(delete(events).where(events.c.at < cutoff)).rowcount
            future = connection.execute(delete(events).where(events.c.at > ahead)).rowcount
            connection.execute(delete(losses).where(or_(losses.c.began < cutoff, losses.c.began > ahead)))
        return int(old or 0), int(future or 0)

    def count(self) -> int:
        """Return how many events the store holds."""
        self.ensure_schema()
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(events)).scalar_one())


@functools.lru_cache(maxsize=8)
def insert_sql(dialect: Dialect) -> str:
    """Return the DB-API INSERT of one stored row (SQLite's fast path)."""
    quote = dialect.identifier_preparer.quote
    marks = ", ".join("?" for _ in STORED)
    return f"INSERT INTO {events.name} ({', '.join(quote(c) for c in STORED)}) VALUES ({marks})"


def lost_between(connection: Connection, since: date | None, until: date | None) -> dict[str, int]:
    """Return the events lost per reason in outages that began from `since` through `until` (UTC days)."""
    query = select(losses.c.reason, func.sum(losses.c.lost)).group_by(losses.c.reason)
    if since is not None:
        query = query.where(losses.c.began >= datetime.combine(since, clock_time.min))
    if until is not None:
        query = query.where(losses.c.began < datetime.combine(until + timedelta(days=1), clock_time.min))
    found = {str(reason): int(n or 0) for reason, n in connection.execute(query)}
    return {**dict.fromkeys(REASONS, 0), **found}
