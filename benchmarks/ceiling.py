"""The ceilings: minimal Flask apps answering every webhook with one constant TwiML document.

`create_app` does nothing else (no correct webhook can match it); `create_fair_app` does what every
correct webhook must: read Twilio's form, check the signature with twilio's RequestValidator as
Twilio's documentation shows, and answer. The line is measured against the fair one.
"""

from __future__ import annotations

import os

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse


def _document() -> str:
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", action="/voice/gather?node=main_menu&lang=en-GB&s=0&i=0", num_digits=1, timeout=6
    )
    gather.say("Main menu. To hear what to do if you are in danger, press 1. To get help, press 2.")
    response.redirect("/voice/gather?node=main_menu&lang=en-GB&s=0&i=0", method="POST")
    return str(response)


def create_app() -> Flask:
    """Build the ceiling app: no signature check, no flow, no store; the same routes as the line."""
    app = Flask(__name__)
    body = _document()

    @app.route("/voice", methods=["GET", "POST"])
    @app.route("/voice/<path:rest>", methods=["GET", "POST"])
    def answer(rest: str = "") -> Response:
        return Response(body, mimetype="text/xml")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_fair_app(token: str | None = None) -> Flask:
    """Build the fair ceiling: the form read, the signature checked by RequestValidator, constant TwiML."""
    app = Flask(__name__)
    body = _document()
    validator = RequestValidator(token or os.environ.get("TWILIO_AUTH_TOKEN", ""))

    @app.route("/voice", methods=["GET", "POST"])
    @app.route("/voice/<path:rest>", methods=["GET", "POST"])
    def answer(rest: str = "") -> Response:
        params = request.form.to_dict() if request.method == "POST" else {}
        if not validator.validate(request.url, params, request.headers.get("X-Twilio-Signature", "")):
            abort(403)
        return Response(body, mimetype="text/xml")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
