"""`ivr prompts publish|pending`: candidates go live from a shell only when the caller's rules pass."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from .. import audit
from ..audio.publishing import Pending, PublishRefused, pending, publish
from ..audio.store import AudioError
from ..audio.versions import AudioVersion
from ..flow import Flow
from ..services import services

SHELL_ROLE = "admin"  # a shell on the server is the operator's: it publishes as an admin would


def try_publish(prompt_id: str, lang: str, slow: bool, hold: bool) -> bool:
    """Publish a prompt's new candidate unless held; say what happened; tell whether it went live."""
    label = f"{lang}/{prompt_id}" + (" (slow)" if slow else "")
    if hold:
        click.echo(f"  {label}: held as a candidate (`ivr prompts publish {prompt_id} --lang {lang}`)")
        return False
    found = services()
    flow = found.live.current().flow
    before = found.audio.history(flow, prompt_id, lang, slow)
    try:
        publish(found.audio, flow, prompt_id, lang, slow, by=audit.shell_user(), role=SHELL_ROLE)
    except PublishRefused as refused:
        click.echo(f"  {label}: NOT live, kept as a candidate: it breaks the caller's rules:", err=True)
        for finding in refused.findings:
            click.echo(f"    - {finding}", err=True)
        return False
    _record(flow, before, prompt_id, lang, slow)
    click.echo(f"  {label}: live")
    return True


def _record(
    flow: Flow, before: list[AudioVersion], prompt_id: str, lang: str, slow: bool, note: str = ""
) -> None:
    """Add a publication to the audit log: who, which prompt, from which version to which."""
    found = services()
    change = audit.audio_change(before, found.audio.history(flow, prompt_id, lang, slow)) or "no change"
    subject = audit.prompt_subject(prompt_id, lang, slow)
    audit.record(found.engine, audit.shell_user(), "publish", subject, change + note)


@click.command("publish")
@click.argument("prompt_id")
@click.option("--lang", "lang", metavar="LANG", help="The prompt's language [default: the flow's default].")
@click.option("--slow", is_flag=True, help="The slow-speech version.")
@click.option(
    "--version", "version", type=int, help="Any kept version (see history); default: the candidate."
)
@click.option("--override", is_flag=True, help="Publish although the words were not recognised (logged).")
@with_appcontext
def publish_command(
    prompt_id: str, lang: str | None, slow: bool, version: int | None, override: bool
) -> None:
    """Make a candidate (or any kept version, forwards or back) live, if the caller's rules pass with it."""
    found = services()
    flow = found.live.current().flow
    code = lang or flow.default_language
    if not flow.catalogue.has(prompt_id, code):
        raise click.BadParameter(f"there is no prompt {prompt_id!r} in {code}", param_hint="PROMPT_ID")
    before = found.audio.history(flow, prompt_id, code, slow)
    who = audit.shell_user()
    try:
        row = publish(
            found.audio, flow, prompt_id, code, slow, version, by=who, role=SHELL_ROLE, override=override
        )
    except PublishRefused as refused:
        click.echo(f"{code}/{prompt_id} is not published: {refused.reason}", err=True)
        for finding in refused.findings:
            click.echo(f"  - {finding}", err=True)
        sys.exit(1)
    except AudioError as exc:
        raise click.ClickException(exc.reason) from None
    _record(flow, before, prompt_id, code, slow, " (rules overridden)" if override else "")
    click.echo(f"{code}/{prompt_id} now plays its {row.source} from {row.made_at}")


@click.command("pending")
@with_appcontext
def pending_command() -> None:
    """List the candidates waiting to be published, and what stands in each one's way."""
    found = services()
    waiting = pending(found.audio, found.live.current().flow)
    if not waiting:
        click.echo("No candidates are waiting.")
        return
    for item in waiting:
        click.echo(_line(item))
        for finding in item.findings:
            click.echo(f"    - {finding}")


def _line(item: Pending) -> str:
    label = f"{item.lang}/{item.prompt_id}" + (" (slow)" if item.slow else "")
    who = f" by {item.by}" if item.by else ""
    state = "breaks a rule" if item.findings else "waits for an admin" if item.needs_approval else "ready"
    critical = ", safety-critical" if item.safety_critical else ""
    return f"{label} v{item.version}{who}, {item.made_at[:16].replace('T', ' ')}{critical}: {state}"
