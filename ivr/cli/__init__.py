"""The `ivr` command: serve, check, simulate, and the staff and admin tools.

Owns one module a command group: `serve`, `check`, `simulate`, `db`, `users`, `journeys`
(purge and report), `languages`, `prompts`, `twilio`, `doctor`, `audit`.

May import: every package of `ivr`; nothing imports `ivr.cli`.
"""

from __future__ import annotations

import logging
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

from .. import create_app
from ..settings import SettingsError
from .audit import audit_cli
from .check import check
from .db import db_cli
from .doctor import doctor
from .errors import plain
from .journeys import journeys_cli, report
from .languages import languages_cli
from .prompts import prompts_cli
from .publish import pending_command, publish_command
from .serve import serve
from .simulate import simulate
from .twilio import twilio_cli
from .users import users_cli


def _create_app(**_: Any) -> Flask:
    """Build the app for a command; a setting that cannot be used ends the command with one line."""
    # A command prints what it does: the line's start-up notes are for `ivr serve` alone.
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.info_name != "serve":
        logger = logging.getLogger("ivr")
        before = logger.level
        ctx.find_root().call_on_close(lambda: logger.setLevel(before))
        # A check reads the line's configuration only for its audio: even its warnings are not the point.
        logger.setLevel(logging.ERROR if ctx.info_name == "check" else logging.WARNING)
    try:
        return create_app()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # the instance folder or the audio folder cannot be made or read
        raise click.ClickException(plain(exc) or str(exc)) from None


class LineGroup(FlaskGroup):
    """Flask's command group, with one plain line (never a traceback) for a disk, file or database fault."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; turn the faults a command can meet into one line and exit 1."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            reason = plain(error)
            if reason is None:
                raise
            raise click.ClickException(reason) from None


@click.group(cls=LineGroup, create_app=_create_app, add_version_option=False, set_debug_flag=False)
def cli() -> None:
    """The Derbyshire Victim Services trafficking help line."""


prompts_cli.add_command(publish_command)
prompts_cli.add_command(pending_command)
for command in (
    serve,
    check,
    simulate,
    db_cli,
    users_cli,
    journeys_cli,
    report,
    languages_cli,
    prompts_cli,
    twilio_cli,
    doctor,
    audit_cli,
):
    cli.add_command(command)
