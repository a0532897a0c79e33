"""One plain line for what a command cannot do: a full disk, a database that is down, a refused file."""

from __future__ import annotations

import errno

import click
from sqlalchemy.exc import SQLAlchemyError

from ..logs import describe

REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EADDRINUSE: "the address is already in use",
}


def plain(error: BaseException) -> str | None:
    """Say in one line what went wrong, for the errors a command can meet; None for a bug."""
    if isinstance(error, SQLAlchemyError):
        return f"the database cannot be reached or refused the change: {describe(error)}"
    if isinstance(error, OSError):
        what = REASONS.get(error.errno or 0) or error.strerror or type(error).__name__
        where = error.filename or ""
        return f"{what}: {where}" if where else what
    return None


def retention_days(days: int, setting: str) -> int:
    """Return a retention period from a setting, or a usage error naming it when it keeps nothing."""
    if days < 1:
        raise click.UsageError(f"{setting} must be at least 1")
    return days
