"""Options more than one command takes."""

from __future__ import annotations

from datetime import date, datetime

import click


def day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """Read a `--since`/`--until` day given as YYYY-MM-DD; refuse anything else, saying why."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-01-31") from None
