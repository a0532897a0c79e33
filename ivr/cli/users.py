"""`ivr users`: accounts of the admin console, managed on the server."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import Engine

from .. import audit
from ..admin.users import ROLES, UserError, add, all_users, by_name, remove, set_password
from ..services import services

users_cli = AppGroup("users", help="Accounts of the admin console.")


def _engine() -> Engine:
    return services().engine


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_cli.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin: everything; staff: prompts.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def add_command(name: str, role: str, password_stdin: bool) -> None:
    """Create a console account; the password is asked for (or read from stdin)."""
    try:
        add(_engine(), name, role, _read_password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.record(_engine(), audit.shell_user(), "user_added", name, f"role {role}")
    click.echo(f"added {role} {name}")


@users_cli.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def password_command(name: str, password_stdin: bool) -> None:
    """Set a new password for an account (signing it out everywhere)."""
    try:
        set_password(_engine(), name, _read_password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.record(_engine(), audit.shell_user(), "password_changed", name)
    click.echo(f"password changed for {name}")


@users_cli.command("remove")
@click.argument("name")
def remove_command(name: str) -> None:
    """Delete an account."""
    user = by_name(_engine(), name)
    if not remove(_engine(), name):
        raise click.ClickException(f"there is no user called {name!r}")
    audit.record(_engine(), audit.shell_user(), "user_removed", name, f"role {user.role}" if user else "")
    click.echo(f"removed {name}")


@users_cli.command("list")
def list_command() -> None:
    """List the accounts and their roles (never their passwords)."""
    for user in all_users(_engine()):
        click.echo(f"{user.name}\t{user.role}")
