"""The console's blueprint: sign-in and CSRF on every page, security headers, roles."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from ..db import describe
from ..services import services
from . import users

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")
csrf = CSRFProtect()
log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

OPEN_ENDPOINTS = {"admin.login", "admin.static"}
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
    """Create the accounts table if it is missing; a database that is down must not stop the line."""
    found = services(app)
    if found.admin_tables:
        return True
    try:
        users.users.create(found.engine, checkfirst=True)
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
        csrf.protect()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if request.method == "GET" and not request.path.startswith("/admin/api/"):
            return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
        abort(401)
    return None


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
