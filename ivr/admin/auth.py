"""Signing in and out, and the console's home page."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from .. import audit, metrics
from ..audio import publishing
from ..services import services
from . import users
from .console import SEEN_AT, SIGNED_IN_AT, bp


def _safe_next(target: str | None) -> str:
    """Return a local /admin path to go to after signing in; anything else goes home."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/admin/"):
            return target
    return url_for("admin.index")


def _why_refused(name: str) -> str:
    """Say for the audit log why a sign-in was refused (never the password tried)."""
    if not name:
        return "no name given"
    if not users.NAME.match(name) or users.by_name(services().engine, name) is None:
        return "no such account"
    return "wrong password"


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Show the sign-in form; sign in on a right name and password, a few tries a minute."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("admin.index"))
        return render_template("admin/login.html", next=request.args.get("next", ""))
    limiter = services().login_limiter
    assert limiter is not None, "the console builds its login limiter"
    if not limiter.hit(request.remote_addr or "unknown"):
        flash("Too many sign-in attempts. Wait a minute and try again.", "error")
        return render_template("admin/login.html", next=""), 429
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    engine = services().engine
    if limiter.account_blocked(name):
        metrics.SIGNIN_FAILURES.inc()
        audit.record(
            engine,
            name,
            "sign_in_failed",
            name,
            "too many failures for this account",
            address=request.remote_addr,
        )
        flash("Too many failed sign-ins for this account. Wait and try again, or ask an admin.", "error")
        return render_template("admin/login.html", next=""), 429
    user = users.authenticate(engine, name, password)
    if user is None:
        limiter.failed(name)
        metrics.SIGNIN_FAILURES.inc()
        audit.record(engine, name, "sign_in_failed", name, _why_refused(name), address=request.remote_addr)
        flash("That name and password do not match an account.", "error")
        return render_template("admin/login.html", next=request.form.get("next", "")), 401
    # A new session: nothing from before sign-in (a CSRF token planted in this browser included) survives.
    session.clear()
    session.permanent = True
    session[SIGNED_IN_AT] = session[SEEN_AT] = int(time.time())
    login_user(user)
    audit.record(engine, user.name, "sign_in", user.name, f"role {user.role}", address=request.remote_addr)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    audit.record(services().engine, current_user.name, "sign_out", current_user.name)
    users.end_sessions(services().engine, current_user.name)  # every browser this account is signed in on
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("admin.login"))


@bp.get("/")
def index() -> str:
    """Show what this user can do, and the state of the live flow."""
    found = services()
    flow = found.live.current().flow
    waiting = publishing.pending(found.audio, flow)
    return render_template(
        "admin/index.html", version=flow.version, problems=len(found.live.problems), pending=waiting
    )
