"""The admin console: blueprint /admin for staff and admins, behind a sign-in, apart from /voice.

Owns the console's pages (flow review, prompt library, simulator, figures, audit log), its
accounts, sessions, CSRF and sign-in throttling.

May import: `ivr.line`, `ivr.audio`, `ivr.journeys`, `ivr.checks`, `ivr.flow`, and the shared
`ivr.services`, `ivr.settings`, `ivr.db`, `ivr.audit`; never `ivr.cli`.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_login import LoginManager

from ..services import services
from . import audit, auth, figures, library, review, sim, users  # noqa: F401 - importing them adds their routes to bp
from .console import bp, csrf, ensure_tables

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    """Add the console: accounts table, sessions, CSRF, sign-in limits and the blueprint."""
    settings = services(app).settings
    # Session cookies only over https, unless IVR_COOKIE_SECURE=0 (plain http on one's own machine);
    # CSRF is checked by this blueprint only: Twilio's webhooks carry signatures, not tokens.
    app.config.update(
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        # Behind TLS the cookie is bound to this host and https (the __Host- prefix, a browser rule).
        SESSION_COOKIE_NAME="__Host-ivr-session" if settings.cookie_secure else "ivr-session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_CHECK_DEFAULT=False,
        # The CSRF token and the SameSite cookie carry the check: a browser that sends no Referer
        # (a privacy setting) can still sign in over https.
        WTF_CSRF_SSL_STRICT=False,
    )
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    csrf.init_app(app)

    manager = LoginManager()
    manager.login_view = "admin.login"
    manager.login_message = "Please sign in."
    manager.session_protection = "strong"
    manager.user_loader(lambda session_id: users.by_session_id(services(app).engine, session_id))
    manager.init_app(app)
    ensure_tables(app)

    app.register_blueprint(bp)
