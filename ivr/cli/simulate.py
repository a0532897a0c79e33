"""`ivr simulate KEY…`: play a call through the real webhooks and print what the caller hears."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..line.simulator import run


@click.command("simulate")
@click.argument("keys", nargs=-1)
@click.option("--twiml", is_flag=True, help="Print each TwiML document too.")
@with_appcontext
def simulate(keys: tuple[str, ...], twiml: bool) -> None:
    """Play a call through the real webhooks: keys, '.' for silence, answered/busy/no-answer/failed."""
    call = run(current_app._get_current_object(), list(keys), simulated=True)  # type: ignore[attr-defined]
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
