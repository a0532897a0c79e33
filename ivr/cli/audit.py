"""`ivr audit`: who did what, as text or CSV; `ivr audit purge`: the audit log's retention."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from .. import audit as auditlog
from ..logs import describe
from ..services import services
from .errors import retention_days
from .options import day

SHOWN = 1000  # the newest entries printed as text; --csv prints every one that matches


def _line(entry: auditlog.Entry) -> str:
    """Return one entry as one line of text."""
    what = f"{entry.subject}: {entry.detail}" if entry.detail else entry.subject
    where = f"  (from {entry.address})" if entry.address else ""
    return f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.who:<16} {entry.action:<16} {what}{where}"


@click.group("audit", cls=AppGroup, invoke_without_command=True)
@click.option("--since", callback=day, metavar="DATE", help="First day (UTC) to show, YYYY-MM-DD.")
@click.option("--until", callback=day, metavar="DATE", help="Last day (UTC) to show, YYYY-MM-DD.")
@click.option("--who", metavar="NAME", help="Only what this account (or shell:USER) did.")
@click.option("--action", type=click.Choice(auditlog.ACTIONS), help="Only this kind of action.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (at,who,action,subject,detail,address).")
def audit_cli(
    since: date | None, until: date | None, who: str | None, action: str | None, as_csv: bool
) -> None:
    """Print who did what, newest first (times UTC); `ivr audit purge` deletes old entries."""
    ctx = click.get_current_context()
    if ctx.invoked_subcommand is None:
        ctx.invoke(_show, since=since, until=until, who=who, action=action, as_csv=as_csv)


@with_appcontext
def _show(since: date | None, until: date | None, who: str | None, action: str | None, as_csv: bool) -> None:
    """Print the entries the options select: text, the newest first, or CSV."""
    limit = None if as_csv else SHOWN + 1
    try:
        found = auditlog.entries(services().engine, since, until, who, action, limit=limit)
    except SQLAlchemyError as error:
        raise click.ClickException(f"the audit log cannot be reached: {describe(error)}") from None
    if as_csv:
        click.echo(auditlog.to_csv(found), nl=False)
        return
    if not found:
        click.echo("nothing recorded" + (" that matches" if since or until or who or action else ""))
        return
    for entry in found[:SHOWN]:
        click.echo(_line(entry))
    if len(found) > SHOWN:
        click.echo(f"(the newest {SHOWN} shown; narrow with --since/--until, or --csv for every one)")


@audit_cli.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=None,
    help="Delete entries older than DAYS days [default: IVR_AUDIT_RETENTION_DAYS or 365]",
)
def purge(days: int | None) -> None:
    """Delete audit log entries older than the retention period."""
    days = (
        days
        if days is not None
        else retention_days(services().settings.audit_retention_days, "IVR_AUDIT_RETENTION_DAYS")
    )
    try:
        deleted = auditlog.purge(services().engine, days)
    except SQLAlchemyError as error:
        raise click.ClickException(f"the audit log cannot be reached: {describe(error)}") from None
    click.echo(f"deleted {deleted} audit log entr{'y' if deleted == 1 else 'ies'} older than {days} day(s)")
