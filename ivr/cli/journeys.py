"""`ivr journeys purge` (retention) and `ivr report` (figures as text or CSV)."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from ..journeys import report as reportmod
from ..journeys.events import DEFAULT_RETENTION_DAYS
from ..journeys.store import JourneyStore
from ..logs import describe
from ..services import services
from .errors import retention_days
from .options import day

journeys_cli = AppGroup("journeys", help="The anonymous call-journey store.")


def _store() -> JourneyStore:
    """Return the app's journey store, or one on its engine when recording is switched off."""
    found = services()
    return found.journeys or JourneyStore(lambda: found.engine, found.settings.secret_key)


@journeys_cli.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=None,
    help=f"Delete events older than DAYS days [default: IVR_RETENTION_DAYS or {DEFAULT_RETENTION_DAYS}]",
)
def purge(days: int | None) -> None:
    """Delete journey events older than the retention period, or dated more than a day ahead."""
    days = (
        days if days is not None else retention_days(services().settings.retention_days, "IVR_RETENTION_DAYS")
    )
    try:
        deleted = _store().purge(days)
    except SQLAlchemyError as error:
        raise click.ClickException(f"the journey store cannot be reached: {describe(error)}") from None
    ahead = f" and {deleted.future} dated more than a day ahead (a clock fault)" if deleted.future else ""
    click.echo(f"deleted {deleted.old} journey event(s) older than {days} day(s){ahead}")


@click.command("report")
@click.option("--since", callback=day, metavar="DATE", help="First day (UTC) of calls to count, YYYY-MM-DD.")
@click.option("--until", callback=day, metavar="DATE", help="Last day (UTC) of calls to count, YYYY-MM-DD.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (figure,item,detail,value) instead of text.")
@click.option(
    "--include-simulated", "simulated", is_flag=True, help="Count calls played in the simulator too."
)
@with_appcontext
def report(since: date | None, until: date | None, as_csv: bool, simulated: bool) -> None:
    """Print how callers moved through the line: reach, drop-off, keys, transfers, languages, losses."""
    found = services()
    try:
        figs = reportmod.figures(found.engine, since, until, found.live.current().flow, simulated=simulated)
    except SQLAlchemyError as error:
        raise click.ClickException(f"the journey store cannot be reached: {describe(error)}") from None
    click.echo(reportmod.to_csv(figs) if as_csv else reportmod.to_text(figs), nl=False)
