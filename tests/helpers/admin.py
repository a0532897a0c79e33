"""Helpers for the console's tests: accounts, an https test client, CSRF tokens from pages."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from ivr.admin import users
from ivr.services import services

PASSWORDS = {"ada": "admin-password-123", "sam": "staff-password-456"}
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_users(app) -> None:
    """Create one admin (ada) and one staff member (sam)."""
    engine = services(app).engine
    users.add(engine, "ada", "admin", PASSWORDS["ada"])
    users.add(engine, "sam", "staff", PASSWORDS["sam"])


class HttpsClient(FlaskClient):
    """A test client whose requests go to https://localhost, as a browser behind TLS sends them."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("base_url", "https://localhost")
        return super().open(*args, **kwargs)


def https_client(app):
    """A test client that speaks https (the session cookie is Secure) from a same-origin page."""
    client = HttpsClient(app, app.response_class, use_cookies=True)
    client.environ_base["HTTP_REFERER"] = "https://localhost/admin/"
    return client


def csrf_token(client, path: str = "/admin/login") -> str:
    """Read the CSRF token from a page's form."""
    page = client.get(path).get_data(as_text=True)
    match = TOKEN_FIELD.search(page)
    assert match, page
    return match.group(1)


def sign_in(client, name: str, password: str | None = None):
    """Sign in through the form, as a browser does."""
    token = csrf_token(client)
    return client.post(
        "/admin/login",
        data={
            "name": name,
            "password": PASSWORDS[name] if password is None else password,
            "csrf_token": token,
            "next": "",
        },
    )


def signed_in(app, name: str):
    """Make the test accounts and return an https client signed in as one of them."""
    make_users(app)
    client = https_client(app)
    sign_in(client, name)
    return client
