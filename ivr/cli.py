"""The `ivr` command: serve, check, simulate, and the staff and admin tools."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup

from . import config, create_app
from . import flow as flowmod
from .admin.users import users_cli
from .audio_cli import prompts_cli
from .db import db_cli
from .journeys_cli import journeys_cli
from .journeys_cli import report as report_command
from .languages_cli import languages_cli


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """The Derbyshire Victim Services trafficking help line."""


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve the line with werkzeug's server (use gunicorn in production: see the README)."""
    from werkzeug.serving import run_simple

    # Flask ignores app.run() inside its own CLI, so the server is started directly.
    click.echo(f"Serving the line on http://{host}:{port}/ (the incoming-call webhook is /voice)")
    run_simple(host, port, current_app._get_current_object(), threaded=True)  # type: ignore[attr-defined]


@cli.command("check", with_appcontext=False)
@click.option(
    "--prompts", "prompts_dir", type=click.Path(file_okay=False), help="Folder of flow.yaml and catalogues."
)
def check(prompts_dir: str | None) -> None:
    """Validate the flow and every catalogue; exit 1 on any problem."""
    from pathlib import Path

    from .languages_cli import language_check

    folder = Path(prompts_dir) if prompts_dir else config.prompts_dir()
    flow, problems = flowmod.load(folder)
    # Per language: measured audio lengths against the budget, and the lines printed below.
    measured, lines = language_check(flow) if flow is not None else ([], [])
    problems += measured
    for problem in problems:
        click.echo(str(problem), err=True)
    if flow is not None and not problems:
        for line in lines:
            click.echo(line)
        click.echo(f"flow {flow.version}: {len(flow.nodes)} nodes, no problems")
    if problems or flow is None:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)


@cli.command("simulate")
@click.argument("keys", nargs=-1)
@click.option("--twiml", is_flag=True, help="Print each TwiML document too.")
def simulate(keys: tuple[str, ...], twiml: bool) -> None:
    """Play a call through the real webhooks: keys, '.' for silence, answered/busy/no-answer/failed."""
    from .simulator import run

    call = run(current_app._get_current_object(), list(keys))  # type: ignore[attr-defined]
    pressed = ["(call starts)", *keys]
    for turn, key in zip(call.turns, pressed, strict=False):
        click.secho(f"> {key}", fg="cyan", bold=True)
        for kind, value in turn.heard:  # in the order the caller hears them
            click.echo(f"  [plays {value}]" if kind == "play" else f"  {value}")
        if turn.dial_number:
            click.echo(f"  [dials {turn.dial_number}; answer with: answered, busy, no-answer, failed]")
        if turn.hangup:
            click.echo("  [hangs up]")
        if twiml:
            click.echo(turn.twiml)
    if len(call.turns) < len(pressed):
        click.echo(f"(the call ended before: {' '.join(pressed[len(call.turns) :])})")


cli.add_command(db_cli)
cli.add_command(users_cli)
cli.add_command(journeys_cli)
cli.add_command(report_command)
cli.add_command(languages_cli)
cli.add_command(prompts_cli)
