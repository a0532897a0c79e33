"""The console's blueprint: sign-in and CSRF on every page, security headers, roles."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from .. import db
from ..db import describe
from ..services import services

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")
csrf = CSRFProtect()
log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

OPEN_ENDPOINTS = {"admin.login", "admin.static"}
SIGNED_IN_AT = "signed_in_at"  # in the session: when its sign-in happened (seconds since 1970)
SEEN_AT = "seen_at"  # and when it was last used
CSP = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
}


def ensure_tables(app: Flask) -> bool:
    """Create or update the tables the console needs; a database that is down must not stop the line."""
    found = services(app)
    if found.admin_tables:
        return True
    try:
        db.upgrade(found.engine, wait_ms=2000)  # the accounts, and the audit log they sign into
    except SQLAlchemyError as error:
        log.warning(
            "the accounts table cannot be checked now (%s); the console will try again", describe(error)
        )
        return False
    found.admin_tables = True
    return True


@bp.before_request
def guard() -> Any:
    """Check the CSRF token of every write, and the sign-in of every page but the sign-in page."""
    if not ensure_tables(current_app) and request.endpoint != "admin.static":
        return "The console's database cannot be reached just now. Try again in a minute.\n", 503
    if request.endpoint == "admin.upload":
        # Recordings are bigger than a webhook's form: allow them here only (Flask 3.1 per request).
        request.max_content_length = services().settings.admin_upload_bytes
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        _same_site()
        csrf.protect()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if current_user.is_authenticated and _expired():
        logout_user()
        session.clear()
        flash(
            "You were signed out: the session was idle too long, or is too old. Please sign in again.", "info"
        )
    if not current_user.is_authenticated:
        if request.method == "GET" and not request.path.startswith("/admin/api/"):
            return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
        abort(401)
    session[SEEN_AT] = int(time.time())
    return None


def _same_site() -> None:
    """Refuse a change sent from another site, when the browser says where it came from.

    The CSRF token and the SameSite cookie are the check; a browser that sends no Origin and no
    Referer (a privacy setting) is not refused for that alone.
    """
    source = request.headers.get("Origin") or request.referrer
    if not source or source == "null":
        return
    parts = urlsplit(source)
    if (parts.scheme, parts.netloc) != (request.scheme, request.host):
        abort(400, "This change came from another site.")


def _expired() -> bool:
    """Tell whether the signed-in session has been idle too long, or has lasted too long."""
    settings = services().settings
    now = time.time()
    seen = session.get(SEEN_AT)
    since = session.get(SIGNED_IN_AT)
    if not isinstance(seen, int) or not isinstance(since, int):
        return True  # a session from before these were kept: sign in again
    return now - seen > settings.idle_minutes * 60 or now - since > settings.session_hours * 3600


@bp.after_request
def security_headers(response):  # type: ignore[no-untyped-def]
    """Send the console's security headers; keep signed-in pages out of caches."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


def require(role: str) -> Callable[[F], F]:
    """Allow a view to admins, and to staff too when role is 'staff'."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if role == "admin" and not current_user.is_admin:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate
