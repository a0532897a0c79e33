"""Who did what, for admins: the audit log as a table with filters, and as CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import Response, render_template, request

from ..audit import ACTIONS, Entry, entries, to_csv, when
from ..services import services
from .console import bp, require

SHOWN = 1000  # the newest entries the page shows; the CSV holds every one that matches


@dataclass(frozen=True)
class Filters:
    """What the page was asked to show: GET parameters, checked."""

    who: str
    action: str
    since: date | None
    until: date | None
    problems: tuple[str, ...]

    def args(self) -> dict[str, str]:
        """Return the filters as query parameters (for the CSV link), leaving out the empty ones."""
        found = {
            "who": self.who,
            "action": self.action,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {name: value for name, value in found.items() if value}


def _day(name: str, problems: list[str]) -> date | None:
    """Read a YYYY-MM-DD parameter; note a value that is not a date."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        problems.append(f"{name}: {value!r} is not a date like 2026-01-31; left out")
        return None


def _filters() -> Filters:
    """Read the page's filters from the query string."""
    problems: list[str] = []
    action = request.args.get("action", "").strip()
    if action and action not in ACTIONS:
        problems.append(f"action: {action!r} is not one of the actions; left out")
        action = ""
    since, until = _day("since", problems), _day("until", problems)
    return Filters(request.args.get("who", "").strip()[:80], action, since, until, tuple(problems))


def _find(found: Filters, limit: int | None) -> list[Entry]:
    """Return the entries the filters select, newest first."""
    return entries(
        services().engine, found.since, found.until, found.who or None, found.action or None, limit=limit
    )


@bp.get("/audit")
@require("admin")
def audit() -> str:
    """Show who did what, newest first, filtered by who, action and days (UTC)."""
    found = _filters()
    rows = _find(found, SHOWN + 1)
    return render_template(
        "admin/audit.html",
        rows=rows[:SHOWN],
        more=len(rows) > SHOWN,
        shown=SHOWN,
        filters=found,
        actions=ACTIONS,
        when=when,
    )


@bp.get("/audit.csv")
@require("admin")
def audit_csv() -> Response:
    """Download the audit log entries the filters select, as CSV."""
    found = _filters()
    return Response(
        to_csv(_find(found, None)),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
