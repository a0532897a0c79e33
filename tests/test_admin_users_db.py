"""Accounts on both stores the service runs on: SQLite, and a real PostgreSQL server."""

from __future__ import annotations

import pytest

from ivr.admin import users
from ivr.services import services
from tests.helpers.admin import https_client, sign_in


def test_accounts_are_created_on_start_and_work(journey_app):
    engine = services(journey_app).engine
    user = users.add(engine, "ada", "admin", "admin-password-123")
    assert users.authenticate(engine, "ada", "admin-password-123") == user
    assert users.authenticate(engine, "ada", "wrong-password-000") is None
    assert users.by_session_id(engine, user.get_id()) == user
    assert users.by_session_id(engine, f"{user.id}.0000000000000000") is None
    with pytest.raises(users.UserError, match="already"):
        users.add(engine, "ada", "staff", "another-password-1")
    client = https_client(journey_app)
    assert sign_in(client, "ada", "admin-password-123").status_code == 302
    assert client.get("/admin/flow").status_code == 200
    users.set_password(engine, "ada", "a-brand-new-password")
    assert client.get("/admin/flow").status_code == 302
    assert users.remove(engine, "ada")
    assert users.all_users(engine) == []


def test_db_upgrade_knows_the_accounts_table(journey_app):
    from ivr.cli import cli

    result = journey_app.test_cli_runner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "admin_users" not in result.output  # created already when the app started
