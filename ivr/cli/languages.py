"""`ivr languages status`, and the per-language lines `ivr check` prints."""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo

from ..checks import Verdict, verdict
from ..flow import Flow, Problem
from ..flow.languages import availability
from ..services import services

log = logging.getLogger(__name__)
languages_cli = AppGroup("languages", help="Which languages callers are offered, and why not.")


def judged(app: Flask, flow: Flow, problems: list[Problem] | None = None) -> Verdict:
    """Judge a flow as the app would serve it: with its fresh audio and their measured lengths."""
    return services(app).live.verdict(flow, problems)


def check_with_audio(flow: Flow, problems: list[Problem]) -> Verdict:
    """Judge a flow with the audio the configured app would play, if an app loads here; else files alone."""
    ctx = click.get_current_context(silent=True)
    app = None
    if ctx is not None:
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()  # quiet: start-up notes are `ivr serve`'s
        except Exception:  # noqa: BLE001 - `ivr check` works on files alone
            log.info("no running configuration to read audio from", exc_info=True)
    return judged(app, flow, problems) if app is not None else verdict(flow, problems=problems)


@languages_cli.command("status")
def status() -> None:
    """Print each language: review state, offered or why not, and the seconds to 999 and Refuge."""
    flow = services().live.current().flow
    present = services().audio.present(flow)
    for line in judged(current_app, flow).languages:
        click.echo(str(line))
        avail = availability(flow, line.lang, present)
        for pid in (*avail.missing, *avail.unplayable)[:10]:
            click.echo(f"    needs {pid}")
