"""The `ivr` command: serve, check, simulate, and the staff and admin tools."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup

from . import config, create_app
from . import flow as flowmod
from .db import db_cli
from .journeys_cli import journeys_cli
from .journeys_cli import report as report_command


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """The Derbyshire Victim Services trafficking help line."""


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve the line with Flask's own server (use gunicorn in production)."""
    current_app.run(host=host, port=port)


@cli.command("check", with_appcontext=False)
@click.option(
    "--prompts", "prompts_dir", type=click.Path(file_okay=False), help="Folder of flow.yaml and catalogues."
)
def check(prompts_dir: str | None) -> None:
    """Validate the flow and every catalogue; exit 1 on any problem."""
    from pathlib import Path

    from .checks import seconds_to_emergency

    folder = Path(prompts_dir) if prompts_dir else config.prompts_dir()
    flow, problems = flowmod.load(folder)
    for problem in problems:
        click.echo(str(problem), err=True)
    if flow is not None and not problems:
        for lang in flow.languages:
            language = flow.catalogue.languages[lang]
            click.echo(
                f"{lang} ({language.name}, {language.review}): 999 advice within "
                f"{seconds_to_emergency(flow, lang):.0f} s of the greeting"
            )
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
        for said in turn.says:
            click.echo(f"  {said}")
        for played in turn.plays:
            click.echo(f"  [plays {played}]")
        if turn.dial_number:
            click.echo(f"  [dials {turn.dial_number}; answer with: answered, busy, no-answer, failed]")
        if turn.hangup:
            click.echo("  [hangs up]")
        if twiml:
            click.echo(turn.twiml)
    if len(call.turns) < len(pressed):
        click.echo(f"(the call ended before: {' '.join(pressed[len(call.turns) :])})")


cli.add_command(db_cli)
cli.add_command(journeys_cli)
cli.add_command(report_command)
