"""The console's doors: sign-in, roles, CSRF, cookies, headers, sign-in limits, `ivr users`."""

from __future__ import annotations

import pytest

from ivr import create_app
from ivr.admin import users
from ivr.cli import cli
from ivr.services import services
from tests.helpers.admin import PASSWORDS, csrf_token, https_client, make_users, sign_in

ADMIN_PAGES = ["/admin/flow", "/admin/flow.svg", "/admin/figures"]
STAFF_PAGES = ["/admin/", "/admin/prompts", "/admin/prompts/welcome/en-GB", "/admin/simulator"]


@pytest.fixture
def admin_app(app):
    make_users(app)
    return app


@pytest.fixture
def web(admin_app):
    return https_client(admin_app)


@pytest.mark.parametrize("path", ADMIN_PAGES + STAFF_PAGES)
def test_anonymous_pages_redirect_to_sign_in(web, path):
    response = web.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")
    assert "Refuge" not in response.get_data(as_text=True)


def test_anonymous_api_gets_nothing(web):
    token = csrf_token(web)
    response = web.post("/admin/api/sim", json={"action": "start"}, headers={"X-CSRFToken": token})
    assert response.status_code == 401
    assert "Say" not in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["ada", "sam"])
def test_sign_in_and_out(web, name):
    response = sign_in(web, name)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    home = web.get("/admin/").get_data(as_text=True)
    assert f"Welcome, {name}" in home
    token = csrf_token(web, "/admin/")
    out = web.post("/admin/logout", data={"csrf_token": token})
    assert out.status_code == 302
    assert web.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "name,password", [("ada", "wrong-password-000"), ("nobody", "admin-password-123"), ("", "")]
)
def test_wrong_sign_in_is_refused(web, name, password):
    response = sign_in(web, name, password)
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)
    assert web.get("/admin/").status_code == 302


def test_sign_in_goes_back_to_the_page_asked_for_but_only_inside_admin(web):
    token = csrf_token(web)
    data = {"name": "ada", "password": PASSWORDS["ada"], "csrf_token": token}
    assert web.post("/admin/login", data={**data, "next": "/admin/flow"}).headers["Location"] == "/admin/flow"
    web.post("/admin/logout", data={"csrf_token": csrf_token(web, "/admin/")})
    token = csrf_token(web)
    evil = web.post("/admin/login", data={**data, "csrf_token": token, "next": "https://evil.example/admin/"})
    assert evil.headers["Location"] == "/admin/"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_staff_cannot_do_admin_things(web, path):
    sign_in(web, "sam")
    assert web.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES + STAFF_PAGES)
def test_admin_can_do_everything(web, path):
    sign_in(web, "ada")
    assert web.get(path).status_code == 200


def test_staff_navigation_hides_admin_pages(web):
    sign_in(web, "sam")
    page = web.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/prompts"' in page
    assert 'href="/admin/flow"' not in page


def test_posts_without_csrf_token_are_refused(web):
    token = csrf_token(web)
    response = web.post("/admin/login", data={"name": "ada", "password": PASSWORDS["ada"]})
    assert response.status_code == 400
    assert web.get("/admin/").status_code == 302
    forged = web.post(
        "/admin/login", data={"name": "ada", "password": PASSWORDS["ada"], "csrf_token": token + "x"}
    )
    assert forged.status_code == 400


def test_signed_in_writes_need_the_token_too(web):
    sign_in(web, "sam")
    assert web.post("/admin/logout").status_code == 400
    assert web.post("/admin/api/sim", json={"action": "start"}).status_code == 400
    assert web.get("/admin/").status_code == 200


def test_https_post_from_another_site_is_refused(admin_app):
    client = https_client(admin_app)
    token = csrf_token(client)
    client.environ_base["HTTP_REFERER"] = "https://evil.example/"
    response = client.post(
        "/admin/login", data={"name": "ada", "password": PASSWORDS["ada"], "csrf_token": token}
    )
    assert response.status_code == 400


def test_session_cookie_is_secure_httponly_samesite(web):
    response = sign_in(web, "ada")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_security_headers(web):
    response = web.get("/admin/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_voice_webhooks_are_untouched_by_the_console(admin_app):
    from tests.helpers.twilio import post_signed, twiml

    client = admin_app.test_client()
    root = twiml(post_signed(client, "/voice", {"CallSid": "CA" + "1" * 32}))
    assert root.find("Gather") is not None
    headers = post_signed(client, "/voice", {}).headers
    assert "script-src" not in headers.get("Content-Security-Policy", "")  # not the console's policy
    assert "Set-Cookie" not in headers  # no session for a webhook
    assert headers["X-Content-Type-Options"] == "nosniff"  # the headers every response has


def test_sign_in_is_rate_limited(app_config):
    app = create_app({**app_config, "ADMIN_LOGIN_LIMIT": "3 per minute"})
    make_users(app)
    client = https_client(app)
    codes = [sign_in(client, "ada", "wrong-password-000").status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    blocked = sign_in(client, "ada")
    assert blocked.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_changing_a_password_ends_old_sessions(web, admin_app):
    sign_in(web, "sam")
    assert web.get("/admin/").status_code == 200
    users.set_password(services(admin_app).engine, "sam", "a-brand-new-password")
    assert web.get("/admin/").status_code == 302


def test_passwords_are_hashed(admin_app):
    user = users.by_name(services(admin_app).engine, "ada")
    assert user is not None
    assert PASSWORDS["ada"] not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_users_cli_add_from_stdin_then_sign_in(app):
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["users", "add", "carol", "--role", "staff"], input="carol-password-789\n")
    assert result.exit_code == 0, result.output
    assert "carol-password-789" not in result.output
    listed = runner.invoke(cli, ["users", "list"])
    assert listed.output.strip() == "carol\tstaff"
    client = https_client(app)
    assert sign_in(client, "carol", "carol-password-789").status_code == 302


@pytest.mark.parametrize(
    "args,stdin,message",
    [
        (["users", "add", "dave", "--role", "staff"], "short\n", "at least 12"),
        (["users", "add", "dave", "--role", "root"], "long-enough-password\n", "Invalid value"),
        (["users", "add", "<b>", "--role", "staff"], "long-enough-password\n", "a name is"),
        (["users", "remove", "nobody"], "", "no user called"),
    ],
    ids=["short-password", "bad-role", "bad-name", "remove-unknown"],
)
def test_users_cli_refuses(app, args, stdin, message):
    result = app.test_cli_runner().invoke(cli, args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output


def test_users_cli_refuses_a_taken_name_and_removes(app):
    runner = app.test_cli_runner()
    assert (
        runner.invoke(cli, ["users", "add", "erin", "--role", "admin"], input="erin-password-000\n").exit_code
        == 0
    )
    again = runner.invoke(cli, ["users", "add", "erin", "--role", "staff"], input="erin-password-111\n")
    assert again.exit_code == 1
    assert "already" in again.output
    assert runner.invoke(cli, ["users", "remove", "erin"]).exit_code == 0
    assert runner.invoke(cli, ["users", "list"]).output == ""


def test_a_database_that_is_down_stops_the_console_not_the_line(app_config, tmp_path, monkeypatch):
    from ivr import create_app
    from tests.helpers.twilio import post_signed, twiml

    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    down = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"})
    assert twiml(post_signed(down.test_client(), "/voice", {})).find("Gather") is not None
    web = https_client(down)
    response = web.get("/admin/login")
    assert response.status_code == 503
    assert "cannot be reached" in response.get_data(as_text=True)
    (tmp_path / "no" / "such").mkdir(parents=True)
    assert web.get("/admin/login").status_code == 200  # it comes back by itself
