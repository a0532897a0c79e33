"""The console's blueprint: sign-in and CSRF on every page, security headers, roles."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .. import audit, db
from ..logs import describe
from ..services import services
from .users import users as accounts_table

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
        db.upgrade(found.engine, wait_ms=2000, tables=[accounts_table, audit.audit_log])  # the console's own
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


# What each error page says: its heading, and what happened in plain words.
ERRORS = {
    400: ("The console could not use that request", "Something in it was missing or not as expected."),
    401: ("You are signed out", "Sign in again, then try once more. Nothing was changed."),
    403: ("This page is for admins", "Your account cannot open it. Ask an admin if you need what it shows."),
    404: (
        "Page not found",
        "There is no such page in the console: the address may be mistyped, or name a prompt or "
        "language the line does not have.",
    ),
    405: ("That does not work here", "This address cannot be used that way. Nothing was changed."),
    413: ("That file is too large", ""),  # says the limit: see _message
    429: ("Too many requests", "Wait a minute, then try again."),
}
EXPIRED = (
    "This form has expired",
    "For your safety a form in the console stops working after some hours, or when you sign in "
    "again. Nothing was changed. Go back, reload the page, and try again.",
)
UNCHECKED = (
    "This form could not be checked",
    "The console could not confirm that it came from one of its own pages (its security token is "
    "missing or does not match). Nothing was changed. Go back, reload the page, and try again.",
)


def wants_json() -> bool:
    """Tell whether the request came from a page's script (fetch), which reads JSON, not a page."""
    return request.headers.get("X-Requested-With") == "fetch" or request.path.startswith("/admin/api/")


def _message(error: HTTPException) -> tuple[str, str]:
    """Return the heading and the words of an error page: the specific reason, where there is one."""
    if isinstance(error, CSRFError):
        return EXPIRED if "expired" in str(error.description) else UNCHECKED
    code = error.code or 500
    title, words = ERRORS.get(code, ("Something went wrong", "Nothing was changed."))
    if code == 413:
        limit = services().settings.admin_upload_bytes / (1024 * 1024)
        words = (
            f"The console takes files of at most {limit:.3g} MB. Shorten the recording, or save it as "
            "MP3, then upload it again. Nothing was changed."
        )
    elif error.description and error.description != type(error).description:
        words = str(error.description)  # a reason given where it was raised: "say one to 200 characters"
    return title, words


def _way_back() -> str | None:
    """Return the console page the browser came from, if it names one on this host; else None."""
    source = request.referrer
    if not source:
        return None
    parts = urlsplit(source)
    if (parts.scheme, parts.netloc) != (request.scheme, request.host) or not parts.path.startswith("/admin/"):
        return None
    back = parts.path + (f"?{parts.query}" if parts.query else "")
    return back if back != request.full_path.rstrip("?") else None


@bp.errorhandler(HTTPException)
def error_page(error: HTTPException) -> Response | HTTPException:
    """Answer a console error with a page in the console's style and a way back; JSON for scripts."""
    code = error.code or 500
    if code < 400:
        return error
    title, words = _message(error)
    if wants_json():
        response = jsonify({"ok": False, "status": code, "title": title, "message": words})
    else:
        page = render_template("admin/error.html", code=code, title=title, words=words, back=_way_back())
        response = current_app.make_response(page)
    response.status_code = code
    for name, value in error.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value  # e.g. Allow on a 405
    return response


@bp.get("/<path:unknown>")
def not_found(unknown: str) -> Response:
    """Answer an address under /admin that is no page with the console's own 404 page."""
    abort(404)


@bp.app_template_filter("moment")
def moment(value: object) -> Markup:
    """Render an ISO time as <time> in UTC; static/console.js shows it in the viewer's own time zone.

    A value that is not a time (or a stamp like '2026-01-31T14:05:09+00:00 by ada') keeps its words.
    """
    text = str(value or "")
    stamp, _, rest = text.partition(" ")
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return Markup("{}").format(text or "–")
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    iso = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    utc = at.strftime("%Y-%m-%d %H:%M UTC")
    shown = Markup('<time datetime="{}" class="local">{}</time>').format(iso, utc)
    return shown + (Markup(" {}").format(rest) if rest else Markup(""))
