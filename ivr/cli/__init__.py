"""The `ivr` command: serve, check, simulate, and the staff and admin tools.

Owns one module a command group: `serve`, `check`, `simulate`, `db`, `users`, `journeys`
(purge and report), `languages`, `prompts`.

May import: every package of `ivr`; nothing imports `ivr.cli`.
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

from .. import create_app
from ..settings import SettingsError
from .check import check
from .db import db_cli
from .journeys import journeys_cli, report
from .languages import languages_cli
from .prompts import prompts_cli
from .serve import serve
from .simulate import simulate
from .users import users_cli


def _create_app(**_: Any) -> Flask:
    """Build the app for a command; a setting that cannot be used ends the command with one line."""
    try:
        return create_app()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, set_debug_flag=False)
def cli() -> None:
    """The Derbyshire Victim Services trafficking help line."""


for command in (serve, check, simulate, db_cli, users_cli, journeys_cli, report, languages_cli, prompts_cli):
    cli.add_command(command)
