"""The Derbyshire Victim Services trafficking help line: a flow-driven Twilio voice service."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config, db, sessions
from .live import LiveFlow

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the blueprints share, kept in app.extensions["ivr"]."""

    live: LiveFlow
    validator: RequestValidator | None
    engine: Engine
    journeys: Any = None
    audio: Any = None


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; refuse to start (FlowError) if the flow or a catalogue is broken."""
    app = Flask(__name__, instance_relative_config=True)
    config.configure(app, test_config)
    app.session_interface = sessions.SessionInterface()
    if app.config["PROXY_FIX"]:
        # Behind a TLS-terminating proxy: trust one hop's X-Forwarded-Proto/Host, so that the
        # URL we check signatures against is the https URL Twilio signed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]

    token = app.config["TWILIO_AUTH_TOKEN"]
    if not token:
        log.warning(
            "TWILIO_AUTH_TOKEN is not set: /voice requests are NOT being verified. "
            "Set it before this line takes real calls."
        )
    from .audio import AudioLibrary

    audio = AudioLibrary(
        Path(app.config["AUDIO_DIR"]),
        public_url=str(app.config.get("PUBLIC_URL") or ""),
        check_seconds=float(app.config["FLOW_RELOAD_SECONDS"]),
    )
    live = LiveFlow(Path(app.config["PROMPTS_DIR"]), float(app.config["FLOW_RELOAD_SECONDS"]), audio=audio)
    audio.attach(live)
    engine = db.make_engine(db.database_url(app))
    app.extensions["ivr"] = Services(
        live=live, validator=RequestValidator(token) if token else None, engine=engine
    )
    app.extensions["ivr"].audio = audio

    from . import journeys

    journeys.init_app(app)

    from . import voice

    app.register_blueprint(voice.bp)
    from . import admin

    admin.init_app(app)
    from . import audio_routes

    app.register_blueprint(audio_routes.bp)
    _register_errors(app)

    @app.get("/health")
    def health() -> dict[str, str]:
        """Tell a load balancer the service answers, and which flow version is live."""
        return {"status": "ok", "flow": live.current().flow.version}

    return app


def _register_errors(app: Flask) -> None:
    from .voice import safe_twiml

    @app.errorhandler(Exception)
    def handle(error: Exception) -> Any:
        """A caller never hears an error: any failure under /voice answers safe TwiML."""
        is_http = isinstance(error, HTTPException)
        if request.path.startswith("/voice"):
            if isinstance(error, HTTPException) and error.code == 403:
                return Response("Forbidden: invalid Twilio signature\n", 403, mimetype="text/plain")
            if not is_http:
                log.exception("error answering %s; caller given safe TwiML", request.path)
            lang = request.args.get("lang")
            return safe_twiml(lang)
        if is_http:
            return error
        log.exception("error answering %s", request.path)
        return Response("Something went wrong; it has been logged.\n", 500, mimetype="text/plain")
