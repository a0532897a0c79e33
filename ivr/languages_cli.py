"""`ivr languages`, and the per-language lines `ivr check` prints."""

from __future__ import annotations

import logging
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo

from .accessibility import measured_problems, report
from .flow import Flow, Problem
from .languages import Durations, Lookup, availability

log = logging.getLogger(__name__)
languages_cli = AppGroup("languages", help="Which languages callers are offered, and why not.")


def hooks_of(app: Any) -> tuple[Lookup | None, Durations | None]:
    """Return the running app's audio lookup and a prompt-duration lookup from its audio library."""
    services = app.extensions["ivr"]
    lookup = services.live.presence()  # fresh audio, judged without a request (no URL needed)
    library = getattr(services, "audio", None)
    if library is None or not hasattr(library, "status"):
        return lookup, None
    try:
        fresh = {
            (a.prompt_id, a.lang): float(a.duration)
            for a in library.status(services.live.current().flow)
            if a.state == "fresh" and not a.slow and a.duration
        }
    except Exception:  # noqa: BLE001 - estimates from text are the fallback
        log.warning("audio durations unavailable; estimating from text", exc_info=True)
        return lookup, None
    return lookup, lambda pid, lang: fresh.get((pid, lang))


def _hooks_for_check() -> tuple[Lookup | None, Durations | None]:
    """Read the audio the app would play, if an app can be loaded here; files alone otherwise."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None, None
    quiet = logging.getLogger("ivr")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # start-up warnings belong to `ivr serve`, not to a check
    try:
        app = ctx.ensure_object(ScriptInfo).load_app()
        return hooks_of(app)
    except Exception:  # noqa: BLE001 - `ivr check` works on files alone
        log.info("no running configuration to read audio from", exc_info=True)
        return None, None
    finally:
        quiet.setLevel(level)


def language_check(flow: Flow) -> tuple[list[Problem], list[str]]:
    """Return measured-length problems and one line per language for `ivr check`."""
    audio, durations = _hooks_for_check()
    problems = measured_problems(flow, durations) if durations else []
    return problems, [str(line) for line in report(flow, audio, durations)]


@languages_cli.command("status")
def status() -> None:
    """Print each language: review state, offered or why not, and the seconds to 999 and Refuge."""
    live = current_app.extensions["ivr"].live
    flow = live.current().flow
    audio, durations = hooks_of(current_app)
    for line in report(flow, audio, durations):
        click.echo(str(line))
        avail = availability(flow, line.lang, audio)
        for pid in (*avail.missing, *avail.unplayable)[:10]:
            click.echo(f"    needs {pid}")
