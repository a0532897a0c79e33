"""Signing in and out, and the console's home page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from .. import metrics
from ..services import services
from . import users
from .console import bp


def _safe_next(target: str | None) -> str:
    """Return a local /admin path to go to after signing in; anything else goes home."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/admin/"):
            return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Show the sign-in form; sign in on a right name and password, a few tries a minute."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("admin.index"))
        return render_template("admin/login.html", next=request.args.get("next", ""))
    limiter = services().login_limiter
    if not limiter.hit(request.remote_addr or "unknown"):
        flash("Too many sign-in attempts. Wait a minute and try again.", "error")
        return render_template("admin/login.html", next=""), 429
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    user = users.authenticate(services().engine, name, password)
    if user is None:
        metrics.SIGNIN_FAILURES.inc()
        flash("That name and password do not match an account.", "error")
        return render_template("admin/login.html", next=request.form.get("next", "")), 401
    login_user(user)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("admin.login"))


@bp.get("/")
def index() -> str:
    """Show what this user can do, and the state of the live flow."""
    live = services().live
    return render_template(
        "admin/index.html", version=live.current().flow.version, problems=len(live.problems)
    )
