"""The practical ceiling: a minimal Flask app answering every webhook with one constant TwiML document."""

from __future__ import annotations

from flask import Flask, Response
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
