"""Journeys for admins: where callers go and where they give up, anonymous and counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, render_template, request
from markupsafe import Markup

from . import bp, require, services

PERIODS = {"1": 1, "7": 7, "30": 30, "365": 365}


def _since() -> tuple[str, datetime]:
    days = request.args.get("days", "7")
    days = days if days in PERIODS else "7"
    return days, datetime.now(UTC) - timedelta(days=PERIODS[days])


def _report() -> Any:
    try:
        from .. import report
    except ImportError:
        return None
    return report


@bp.get("/figures")
@require("admin")
def figures() -> str:
    """Show the journey figures: a funnel, where calls end, and a CSV download."""
    days, since = _since()
    report = _report()
    if report is None:
        return render_template("admin/figures.html", figures=None, days=days, periods=PERIODS)
    data = report.figures(services().engine, since)
    return render_template(
        "admin/figures.html",
        figures=data,
        days=days,
        periods=PERIODS,
        funnel=Markup(report.svg_funnel(data)),
        bars=Markup(report.svg_bars(data)),
    )


@bp.get("/figures.csv")
@require("admin")
def figures_csv() -> Response:
    """Download the journey figures as CSV."""
    days, since = _since()
    report = _report()
    if report is None:
        return Response("no journey report in this build\n", 501, mimetype="text/plain")
    data = report.figures(services().engine, since)
    return Response(
        report.to_csv(data),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="journeys-{days}d.csv"'},
    )
