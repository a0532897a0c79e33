"""Sessions only where a person signs in: Twilio's webhooks never carry or need one."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

WEBHOOK_PREFIX = "/voice"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, skipped for /voice requests (they cost a serializer each)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Return no session for a webhook (Flask then uses a null one); else open the cookie's."""
        path = request.path
        if path == WEBHOOK_PREFIX or path.startswith(WEBHOOK_PREFIX + "/"):
            return None
        return super().open_session(app, request)
