"""Journeys for admins: where callers go and where they give up, anonymous and counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask import Response, render_template, request
from markupsafe import Markup

from ..journeys import charts, report
from ..services import services
from .console import bp, require

PERIODS = {"1": 1, "7": 7, "30": 30, "365": 365}


def _since() -> tuple[str, date]:
    days = request.args.get("days", "7")
    days = days if days in PERIODS else "7"
    return days, (datetime.now(UTC) - timedelta(days=PERIODS[days] - 1)).date()


@bp.get("/figures")
@require("admin")
def figures() -> str:
    """Show the journey figures: calls per day, how far callers get, keys, endings, transfers."""
    days, since = _since()
    flow = services().live.current().flow
    simulated = request.args.get("simulated") == "1"
    figs = report.figures(services().engine, since=since, flow=flow, simulated=simulated)
    # The charts escape every label they draw (ivr/journeys/charts.py), so they go into the page as markup.
    svgs = {
        "per_day": charts.svg_calls_per_day(figs),
        "funnel": charts.svg_funnel(figs),
        "flow": charts.svg_flow(figs),
        "endings": charts.svg_bars(sorted(figs.end_statuses.items()), title="How calls ended"),
        "transfers": charts.svg_bars(sorted(figs.transfer_outcomes.items()), title="Transfers to Refuge"),
    }
    return render_template(
        "admin/figures.html",
        figs=figs,
        days=days,
        simulated=simulated,
        periods=PERIODS,
        svgs={name: Markup(svg) for name, svg in svgs.items()},
    )


@bp.get("/figures.csv")
@require("admin")
def figures_csv() -> Response:
    """Download the journey figures as CSV."""
    days, since = _since()
    simulated = request.args.get("simulated") == "1"
    flow = services().live.current().flow
    figs = report.figures(services().engine, since=since, flow=flow, simulated=simulated)
    return Response(
        report.to_csv(figs),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="journeys-{days}d.csv"'},
    )
