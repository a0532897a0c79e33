"""The admin console: blueprint /admin for staff and admins, behind a sign-in, apart from /voice.

Owns the console's pages (flow review, prompt library, simulator, figures), its accounts,
sessions, CSRF and sign-in throttling.

May import: `ivr.line`, `ivr.audio`, `ivr.journeys`, `ivr.checks`, `ivr.flow`, and the shared
`ivr.services`, `ivr.settings`, `ivr.db`; never `ivr.cli`.
"""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager

from ..services import services
from . import auth, figures, library, review, sim, users  # noqa: F401 - importing them adds their routes to bp
from .console import bp, csrf, ensure_tables

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    """Add the console: accounts table, sessions, CSRF, sign-in limits and the blueprint."""
    settings = services(app).settings
    # Session cookies only over https, unless IVR_COOKIE_SECURE=0 (plain http on one's own machine);
    # CSRF is checked by this blueprint only: Twilio's webhooks carry signatures, not tokens.
    app.config.update(
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_CHECK_DEFAULT=False,
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
