"""The service's database: one SQLAlchemy engine from IVR_DATABASE_URL, SQLite by default.

Modules declare their tables on `metadata`; `ivr db upgrade` (and start-up, where safe)
creates what is missing. A shared lower layer: it imports nothing else of `ivr`.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, inspect, text

log = logging.getLogger(__name__)
metadata = MetaData()
# A webhook's writer never waits long for SQLite's file lock: a busy file drops a batch, counted.
BUSY_TIMEOUT_MS = 500
# How long a schema change waits for another's (off the call path): `ivr db upgrade` waits long,
# the journey writer briefly (a locked store drops that batch, counted, and the next one tries again).
SCHEMA_LOCK_MS = 30_000
# Any constant: the PostgreSQL advisory lock that lets one process at a time change the schema.
SCHEMA_LOCK_KEY = 0x1F0_5AFE


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a short lock wait so a busy file never stalls a call."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 0.5, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if _use_wal(cursor):
                # With WAL, NORMAL never corrupts the file; a power cut (not a crash of the line)
                # may undo the last commits. It spares an fsync per journey batch.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):
        # An unreachable server must fail a batch in seconds, not the OS's minutes.
        connect_args["connect_timeout"] = 3
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=1, connect_args=connect_args
    )


def _use_wal(cursor: sqlite3.Cursor, seconds: float = BUSY_TIMEOUT_MS / 1000) -> bool:
    """Switch a SQLite file to write-ahead logging (once: it stays so); tell whether it is on.

    The switch needs the file to itself, and SQLite answers "locked" at once rather than waiting
    while other connections are opening it (several workers on a fresh file): try again briefly,
    then go on without it. WAL only lets readers and the writer work side by side; a connection
    works either way, and the next one switches the file.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return str(cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() == "wal"
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                log.info("SQLite stays in its journal mode for now: %s", exc)
                return False
            time.sleep(random.uniform(0.002, 0.02))


def upgrade(engine: Engine, wait_ms: int = SCHEMA_LOCK_MS, tables: list[Table] | None = None) -> list[str]:
    """Create the tables that do not exist yet; return their names (and columns and indexes added).

    Workers that start together on a fresh database all call this: each takes the database's
    schema lock first (SQLite's write lock, PostgreSQL's advisory lock), so one creates and the
    others wait, then find the work done.
    """
    wanted = {t.name: t for t in tables} if tables is not None else dict(metadata.tables)
    with _schema_lock(engine, wait_ms) as connection:
        existing = set(engine.dialect.get_table_names(connection))
        metadata.create_all(connection, tables=list(wanted.values()), checkfirst=True)
        added = _add_missing_columns(connection, existing, wanted)
    return [name for name in wanted if name not in existing] + added


@contextmanager
def _schema_lock(engine: Engine, wait_ms: int) -> Iterator[Connection]:
    """Yield a connection in a transaction that holds the schema lock until it commits."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text(f"SET LOCAL lock_timeout = '{int(wait_ms)}ms'"))
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            yield connection
        return
    with engine.connect() as connection:
        # Python's sqlite3 starts transactions only before DML: take the write lock for the DDL too.
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _add_missing_columns(connection: Connection, existing: set[str], wanted: dict[str, Table]) -> list[str]:
    """Migrate additively: add the nullable columns and the indexes an older schema lacks."""
    inspector = inspect(connection)
    preparer = connection.dialect.identifier_preparer
    added = []
    for name, table in wanted.items():
        if name not in existing:
            continue
        have = {column["name"] for column in inspector.get_columns(name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable or column.primary_key:
                raise RuntimeError(f"{name}.{column.name} is new and NOT NULL: write its migration by hand")
            kind = column.type.compile(dialect=connection.dialect)
            connection.execute(
                text(f"ALTER TABLE {preparer.quote(name)} ADD COLUMN {preparer.quote(column.name)} {kind}")
            )
            added.append(f"{name}.{column.name}")
        indexes = {index["name"] for index in inspector.get_indexes(name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(connection, checkfirst=True)
                added.append(f"{name}: index {index.name}")
    return added
