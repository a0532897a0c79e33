"""The service's database: one SQLAlchemy engine from IVR_DATABASE_URL, SQLite by default.

Modules declare their tables on `metadata`; `ivr db upgrade` (and start-up, where safe)
creates what is missing.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError

metadata = MetaData()
db_cli = AppGroup("db", help="The journey and account database.")


def database_url(app: Flask) -> str:
    """Return the configured SQLAlchemy URL, else a SQLite file in the instance folder."""
    url = str(app.config.get("DATABASE_URL") or "")
    if url:
        return url
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'ivr.sqlite3'}"


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a short lock wait so a busy file never stalls a call."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 0.5, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=500")
            cursor.close()

        return engine
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):
        # An unreachable server must fail a batch in seconds, not the OS's minutes.
        connect_args["connect_timeout"] = 3
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=1, connect_args=connect_args
    )


def upgrade(engine: Engine, attempts: int = 3) -> list[str]:
    """Create the tables that do not exist yet; return their names (and columns added).

    Several workers starting together may race to create the same table: the loser's CREATE
    fails with "already exists", so it looks again and finds the work done.
    """
    for attempt in range(attempts):
        try:
            return _upgrade(engine)
        except (OperationalError, ProgrammingError):
            if attempt == attempts - 1:
                raise
    return []


def _upgrade(engine: Engine) -> list[str]:
    with engine.begin() as connection:
        existing = set(engine.dialect.get_table_names(connection))
        metadata.create_all(connection)
        added = _add_missing_columns(connection, existing)
    return [name for name in metadata.tables if name not in existing] + added


def _add_missing_columns(connection: Connection, existing: set[str]) -> list[str]:
    """Migrate additively: add the nullable columns and the indexes an older schema lacks."""
    inspector = inspect(connection)
    preparer = connection.dialect.identifier_preparer
    added = []
    for name, table in metadata.tables.items():
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
                index.create(connection)
                added.append(f"{name}: index {index.name}")
    return added


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """Create or bring up to date the database schema."""
    created = upgrade(current_app.extensions["ivr"].engine)
    click.echo(f"created: {', '.join(created)}" if created else "schema is up to date")
