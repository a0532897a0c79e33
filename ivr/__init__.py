"""The Derbyshire Victim Services trafficking help line: a flow-driven Twilio voice service.

`create_app` reads the settings, builds the services, registers the blueprints; nothing else.
The packages, and what each may import (tests/test_layout.py keeps it so):

    cli, admin -> line -> audio, journeys -> checks -> flow

with `settings`, `services`, `db`, `logs` and `pauses` shared below them all.
"""

from __future__ import annotations

import gc

# Start-up makes a great many objects that live as long as the process: looking for garbage among
# them while importing only slows every worker's start (by about 30 ms). Collection resumes below.
_COLLECTING = gc.isenabled()
gc.disable()

import logging
from typing import Any

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface
from flask.sessions import SessionMixin as FlaskSession
from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logs
from .audio import routes as audio_routes
from .audio.library import AudioLibrary
from .journeys.store import JourneyStore
from .line import monitoring, voice
from .line.live import LiveFlow
from .line.retries import RecentTokens
from .services import Database, Services, attach
from .settings import Settings, database_url, prompts_folder

if _COLLECTING:
    gc.enable()

log = logging.getLogger(__name__)

# A webhook's form is small; the console's uploads raise this for their own route only.
MAX_WEBHOOK_BYTES = 64 * 1024


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; refuse to start (SettingsError) only on a setting that cannot be used.

    A refused flow does not stop it: the line serves the last good flow, or the last resort.
    """
    settings = Settings.from_env(overrides=test_config).with_secret()
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    logs.configure(settings.log_level, settings.log_json)
    app.config.from_mapping(settings.config(), MAX_CONTENT_LENGTH=MAX_WEBHOOK_BYTES)
    if test_config:
        app.config.from_mapping({k: v for k, v in test_config.items() if k not in app.config})
    if settings.proxy_fix:
        # Behind a TLS-terminating proxy: trust one hop's X-Forwarded-Proto/Host, so that the
        # URL we check signatures against is the https URL Twilio signed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]
    if not settings.twilio_auth_token:
        log.warning(
            "TWILIO_AUTH_TOKEN is not set: /voice requests are NOT being verified. "
            "Set it before this line takes real calls."
        )
    found = _services(app, settings)
    attach(app, found)
    app.register_blueprint(voice.bp)
    app.register_blueprint(monitoring.bp)
    if settings.console:
        _with_console(app, found)
    else:
        app.session_interface = NoSessions()
    app.register_blueprint(audio_routes.bp)
    _register_errors(app)
    app.after_request(_security_headers)

    return app


def _services(app: Flask, settings: Settings) -> Services:
    """Build every service of the app, each once, in the order they depend on each other."""
    audio = AudioLibrary(
        settings.audio_dir, public_url=settings.public_url, check_seconds=settings.flow_reload_seconds
    )
    live = LiveFlow(prompts_folder(settings), audio, settings.flow_reload_seconds, settings.instance_dir)
    log.info(
        "flow version %s is live (%d nodes)", live.current().flow.version, len(live.current().flow.nodes)
    )
    # Nothing opens the database at start: the journey writer does before its first insert, and
    # creates the schema then; the console and the commands when they first need it.
    database = Database(database_url(settings))
    token = settings.twilio_auth_token
    return Services(
        settings=settings,
        live=live,
        audio=audio,
        database=database,
        validator=RequestValidator(token) if token else None,
        journeys=JourneyStore(lambda: database.engine, settings.secret_key) if settings.journeys else None,
        retries=RecentTokens(),
    )


class NoSessions(SessionInterface):
    """The line's own workers keep no sessions: nobody signs in there, and Twilio's webhooks never
    carry one. (Flask's signed-cookie sessions build a serializer for every request: about 18 µs
    of a webhook's CPU.) Flask gives each request a null session instead."""

    def open_session(self, app: Flask, request: Request) -> None:
        """Open none."""
        return None

    def save_session(self, app: Flask, session: FlaskSession, response: Response) -> None:
        """Save nothing (Flask never calls this for a null session)."""


def _with_console(app: Flask, found: Services) -> None:
    """Add the staff console: its sessions, its sign-in limits, its pages.

    Imported here, and only here: the line's own workers run without it (IVR_CONSOLE=0, the console
    runs apart) and so never load its code, which takes about 50 ms off their start.
    """
    from .admin import init_app
    from .admin.sessions import SessionInterface
    from .admin.throttle import LoginLimiter

    settings = found.settings
    app.session_interface = SessionInterface()
    found.login_limiter = LoginLimiter(
        settings.admin_login_limit, settings.admin_limit_storage, settings.admin_account_limit
    )
    init_app(app)


# Sent with every response; the console's pages add their own stricter policy first (ivr/admin/console.py).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
HSTS = "max-age=63072000; includeSubDomains"


def _security_headers(response: Response) -> Response:
    """Add the security headers to every response (HSTS when the request came over https).

    A header the response already has is kept. (Headers.setdefault raises and catches a KeyError
    for every header that is absent: on a webhook that cost more than the headers themselves.)
    """
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    for name, value in SECURITY_HEADERS.items():
        if name.lower() not in present:
            headers.add(name, value)
    if request.is_secure and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", HSTS)
    return response


def _register_errors(app: Flask) -> None:
    @app.errorhandler(Exception)
    def handle(error: Exception) -> Any:
        """A caller never hears an error: any failure under /voice answers safe TwiML."""
        is_http = isinstance(error, HTTPException)
        if request.path.startswith("/voice"):
            if isinstance(error, HTTPException) and error.code == 403:
                return Response("Forbidden: invalid Twilio signature\n", 403, mimetype="text/plain")
            if not is_http:
                log.exception("error answering %s; caller given safe TwiML", request.path)
            return voice.safe_twiml(request.args.get("lang"))
        if is_http:
            return error
        log.exception("error answering %s", request.path)
        return Response("Something went wrong; it has been logged.\n", 500, mimetype="text/plain")
