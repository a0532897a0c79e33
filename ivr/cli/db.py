"""`ivr db upgrade`: create or bring up to date the database schema."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .. import db
from ..services import services

db_cli = AppGroup("db", help="The journey and account database.")


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """Create or bring up to date the database schema."""
    created = db.upgrade(services().engine)
    click.echo(f"created: {', '.join(created)}" if created else "schema is up to date")
