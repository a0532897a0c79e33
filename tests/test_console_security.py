"""The console's doors: sessions that can be ended, passwords that resist guessing, headers everywhere."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from ivr import create_app
from ivr.admin import users
from ivr.admin.console import SEEN_AT, SIGNED_IN_AT
from ivr.cli import cli
from ivr.services import services
from tests.helpers.admin import PASSWORDS, csrf_token, https_client, make_users, sign_in
from tests.helpers.twilio import post_signed


@pytest.fixture
def console(app_config):
    app = create_app(app_config)
    make_users(app)
    return app


def copy_of(client, app):
    """Another browser holding a copy of this one's session cookie (copied before sign-out)."""
    thief = https_client(app)
    cookie = client.get_cookie("__Host-ivr-session", domain="localhost")
    assert cookie is not None
    thief.set_cookie("__Host-ivr-session", cookie.value, domain="localhost", secure=True)
    return thief


def test_signing_out_ends_every_session_of_the_account(console) -> None:
    first, second = https_client(console), https_client(console)
    sign_in(first, "sam")
    sign_in(second, "sam")
    stolen = copy_of(first, console)
    assert stolen.get("/admin/prompts").status_code == 200
    first.post("/admin/logout", data={"csrf_token": csrf_token(first, "/admin/")})
    for browser in (first, second, stolen):
        assert browser.get("/admin/prompts").status_code == 302  # to the sign-in page


@pytest.mark.parametrize("how", ["password", "remove"])
def test_a_new_password_or_a_removed_account_ends_its_sessions(console, how: str) -> None:
    browser = https_client(console)
    sign_in(browser, "sam")
    assert browser.get("/admin/prompts").status_code == 200
    if how == "password":
        users.set_password(services(console).engine, "sam", "a new and unusual passphrase")
    else:
        users.remove(services(console).engine, "sam")
    assert browser.get("/admin/prompts").status_code == 302


def test_signing_in_starts_a_new_session_and_a_new_csrf_token(console) -> None:
    browser = https_client(console)
    planted = csrf_token(browser)  # the anonymous sign-in page's token (or one planted by an attacker)
    sign_in(browser, "ada")
    fresh = csrf_token(browser, "/admin/prompts/welcome/en-GB")
    assert fresh != planted
    refused = browser.post("/admin/prompts/welcome/en-GB/rollback", data={"csrf_token": planted})
    assert refused.status_code == 400


def test_an_idle_session_and_an_old_one_end(console) -> None:
    browser = https_client(console)
    sign_in(browser, "ada")
    with browser.session_transaction() as session:
        session[SEEN_AT] = int(time.time()) - 31 * 60
    assert browser.get("/admin/").status_code == 302
    sign_in(browser, "ada")
    with browser.session_transaction() as session:
        session[SIGNED_IN_AT] = int(time.time()) - 13 * 3600
    assert browser.get("/admin/").status_code == 302
    sign_in(browser, "ada")
    assert browser.get("/admin/").status_code == 200


def test_the_cookie_is_bound_to_this_host_over_https(console) -> None:
    response = sign_in(https_client(console), "ada")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-ivr-session=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain=" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("weak", ["aaaaaaaaaaaa", "password1234", " " * 12, "derbyshire12"])
def test_weak_passwords_are_refused_with_a_reason(console, weak: str) -> None:
    with pytest.raises(users.UserError, match="too weak|at least 12"):
        users.add(services(console).engine, "carol", "staff", weak)
    result = console.test_cli_runner().invoke(
        cli, ["users", "add", "carol", "--role", "staff", "--password-stdin"], input=weak + "\n"
    )
    assert result.exit_code == 1 and "Error: the password is too weak" in result.output


def test_an_account_under_attack_from_many_addresses_is_throttled(console) -> None:
    attempts = []
    for n in range(7):
        browser = https_client(console)
        browser.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"  # a different address each time
        attempts.append(sign_in(browser, "ada", "not the password at all").status_code)
    assert attempts[:5] == [401] * 5 and attempts[5:] == [429, 429]
    other = https_client(console)
    assert sign_in(other, "sam").status_code == 302  # another account is not affected


def test_forwarded_addresses_are_trusted_only_behind_the_proxy(app_config, monkeypatch) -> None:
    """Without IVR_PROXY_FIX an X-Forwarded-For is the client's own claim: it does not escape the limit."""
    app = create_app({**app_config, "ADMIN_LOGIN_LIMIT": "3 per minute"})
    make_users(app)
    codes = []
    for n in range(5):
        browser = https_client(app)
        browser.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{n}"
        codes.append(sign_in(browser, "sam", "wrong and wrong again").status_code)
    assert codes[3:] == [429, 429]


def test_sign_in_works_without_a_referer_but_not_from_another_site(console) -> None:
    browser = https_client(console)
    del browser.environ_base["HTTP_REFERER"]
    assert sign_in(browser, "ada").status_code == 302
    other = https_client(console)
    token = csrf_token(other)
    other.environ_base["HTTP_ORIGIN"] = "https://evil.example"
    response = other.post(
        "/admin/login", data={"name": "ada", "password": PASSWORDS["ada"], "csrf_token": token}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/health", "/voice/fallback", "/nowhere", "/admin/login"])
def test_security_headers_on_every_response(console, path: str) -> None:
    client = https_client(console)
    response = (
        post_signed(client, path, {}, base="https://localhost")
        if path.startswith("/voice")
        else client.get(path)
    )
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    plain = console.test_client().get("/health").headers
    assert "Strict-Transport-Security" not in plain  # not over plain http: a browser ignores it there


def test_users_add_on_a_database_that_is_down_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv("IVR_DATABASE_URL", "postgresql+psycopg://ivr@127.0.0.1:9/ivr")
    result = CliRunner().invoke(
        cli, ["users", "add", "dora", "--role", "staff", "--password-stdin"], input="x\n"
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "Error:" in result.output
