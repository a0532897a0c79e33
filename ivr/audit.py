"""Who did what: the audit log of the people who run the line, a table on the shared metadata.

Every change to what callers hear (uploads, recordings, imports, renders, publishing, approvals,
rollbacks) and every door of the console (sign-ins, failed or not, sign-outs, passwords, accounts)
is one row: when (UTC), who (an account, `shell:<unix user>` for a command, `system`), a word
from `ACTIONS`, what it was about and a short detail ("version 3 -> 4", a reason). Never caller
data: phone numbers are masked before anything is stored. Writing an entry never fails a request
or a command: a database that is down loses the entry, with a warning in the log.

A shared lower layer, like `ivr.db`: it imports only `ivr.db` and `ivr.logs`.
"""

from __future__ import annotations

import csv
import getpass
import io
import logging
import os
import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
)

from . import db
from .logs import MASK, describe, mask

log = logging.getLogger(__name__)

ACTIONS = (
    "upload",
    "record",
    "import",
    "render",
    "publish",
    "approve",
    "reject",
    "rollback",
    "confirm",
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "password_changed",
    "user_added",
    "user_removed",
)
SYSTEM = "system"  # who did what the line did by itself
WHO_CHARS, SUBJECT_CHARS, DETAIL_CHARS, ADDRESS_CHARS = 80, 200, 500, 64
CSV_COLUMNS = ("at", "who", "action", "subject", "detail", "address")
# A spreadsheet runs a cell that starts like a formula: a name tried at sign-in could be one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A UK national number written in groups ("07700 900123", "0808-2000-247"), which `mask` leaves alone.
GROUPED_NATIONAL = re.compile(r"(?<![\w.])0\d(?:[\s-]?\d){8,9}(?!\w)")
# How long an entry waits for another process that is creating the tables (off the call path).
SCHEMA_WAIT_MS = 2_000

audit_log = Table(
    "audit_log",
    db.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(), nullable=False),
    Column("who", String(WHO_CHARS), nullable=False),
    Column("action", String(24), nullable=False),
    Column("subject", String(SUBJECT_CHARS), nullable=False),
    Column("detail", String(DETAIL_CHARS), nullable=False),
    Column("address", String(ADDRESS_CHARS)),
    Index("ix_audit_log_at", "at"),
)

# The engines whose audit table is known to exist (checked once a process).
_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


@dataclass(frozen=True)
class Entry:
    """One row of the audit log."""

    id: int
    at: datetime  # UTC, naive
    who: str
    action: str
    subject: str
    detail: str
    address: str | None


def utcnow() -> datetime:
    """Return the time now, UTC, naive (as the journey events keep it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def shell_user() -> str:
    """Return who runs a command: `shell:` and the Unix user's name."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError, ImportError):
        name = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"shell:{name}"


def prompt_subject(prompt_id: str, lang: str, slow: bool = False) -> str:
    """Name a prompt's audio as the log shows it: 'welcome en-GB', 'slow welcome en-GB'."""
    return f"{'slow ' if slow else ''}{prompt_id} {lang}"


def playing(versions: Iterable[Any]) -> int | None:
    """Return the number of the version that plays, of a prompt's history (AudioVersion items)."""
    return next((v.version for v in versions if v.current), None)


def waiting(versions: Iterable[Any]) -> int | None:
    """Return the number of the version made but not yet published, if the history marks one."""
    return next((v.version for v in versions if getattr(v, "candidate", False)), None)


def audio_change(before: Sequence[Any], after: Sequence[Any]) -> str | None:
    """Say how a prompt's audio changed between two histories: 'version 3 -> 4'; None if it did not.

    A version made to be published later (a candidate) is named as such.
    """
    was, now = playing(before), playing(after)
    if now != was:
        return version_change(was, now)
    candidate = waiting(after)
    if candidate is not None and candidate != waiting(before):
        return f"{version_change(was, candidate)} (waiting to be published)"
    return None


def version_change(before: int | None, after: int | None) -> str:
    """Say which version played before and which plays now: 'version 3 -> 4', 'no audio -> version 1'."""
    if before is None:
        return f"no audio -> version {after}" if after is not None else "no audio"
    if after is None:
        return f"version {before} -> no audio"
    return f"version {before} -> {after}"


def _clean(text: object, limit: int) -> str:
    """Return text on one line, phone numbers masked, cut to fit its column."""
    flat = " ".join(str(text).split())
    return GROUPED_NATIONAL.sub(MASK, mask(flat))[:limit]


def _ensure(engine: Engine) -> None:
    """Create the audit table (with the rest of the schema) the first time an engine needs it."""
    if engine in _ready:
        return
    with engine.connect() as connection:
        present = engine.dialect.has_table(connection, audit_log.name)
    if not present:
        db.upgrade(engine, SCHEMA_WAIT_MS)
    _ready.add(engine)


def record(
    engine: Engine, who: str, action: str, subject: str, detail: str = "", address: str | None = None
) -> bool:
    """Add an entry; return whether it was stored (never raises: a lost entry is logged instead)."""
    if action not in ACTIONS:
        log.error("audit entry not recorded: %r is not one of the audit log's actions", action)
        return False
    values = {
        "at": utcnow(),
        "who": _clean(who, WHO_CHARS) or "-",
        "action": action,
        "subject": _clean(subject, SUBJECT_CHARS),
        "detail": _clean(detail, DETAIL_CHARS),
        "address": _clean(address, ADDRESS_CHARS) if address else None,
    }
    try:
        _ensure(engine)
        with engine.begin() as connection:
            connection.execute(insert(audit_log).values(**values))
    except Exception as error:  # the audit log must never fail what it records
        log.warning(
            "audit log cannot be written (%s): lost entry: %s %s %s %s",
            describe(error),
            values["who"],
            action,
            values["subject"],
            values["detail"],
        )
        return False
    return True


def _start(day: date | datetime) -> datetime:
    """Return the first moment of a day (a datetime as it is, made naive UTC)."""
    if isinstance(day, datetime):
        return day.astimezone(UTC).replace(tzinfo=None) if day.tzinfo else day
    return datetime.combine(day, time.min)


def entries(
    engine: Engine,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    who: str | None = None,
    action: str | None = None,
    limit: int | None = 1000,
) -> list[Entry]:
    """Return entries newest first: from `since`, through `until` (a date: to the end of that day)."""
    _ensure(engine)
    query = select(audit_log)
    if since is not None:
        query = query.where(audit_log.c.at >= _start(since))
    if until is not None:
        if isinstance(until, datetime):
            query = query.where(audit_log.c.at <= _start(until))
        else:
            query = query.where(audit_log.c.at < _start(until + timedelta(days=1)))
    if who:
        query = query.where(audit_log.c.who == who)
    if action:
        query = query.where(audit_log.c.action == action)
    query = query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return [
            Entry(r.id, r.at, r.who, r.action, r.subject, r.detail, r.address)
            for r in connection.execute(query)
        ]


def purge(engine: Engine, older_than_days: int) -> int:
    """Delete the entries older than the given days; return how many."""
    _ensure(engine)
    cutoff = utcnow() - timedelta(days=older_than_days)
    with engine.begin() as connection:
        return int(connection.execute(delete(audit_log).where(audit_log.c.at < cutoff)).rowcount or 0)


def when(entry: Entry) -> str:
    """Return an entry's time as ISO 8601, UTC: '2026-01-31T14:05:09Z'."""
    return entry.at.replace(microsecond=0).isoformat() + "Z"


def _cell(value: str) -> str:
    """Return a cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def to_csv(found: Sequence[Entry]) -> str:
    """Return entries as CSV: at,who,action,subject,detail,address (times ISO 8601, UTC)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in found:
        writer.writerow(
            [
                when(entry),
                _cell(entry.who),
                entry.action,
                _cell(entry.subject),
                _cell(entry.detail),
                entry.address or "",
            ]
        )
    return out.getvalue()
