"""`ivr prompts …`: the staff's tools for prompt audio (status, render, import, history, rollback, script)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
from flask.cli import AppGroup

from .. import audit
from ..audio import script as audio_script
from ..audio.library import IMPORT_EXTENSIONS, SOURCES, AudioError, AudioLibrary, AudioVersion
from ..audio.render import RenderJob, RenderReport, plan, render
from ..flow import Flow
from ..flow.languages import availability
from ..flow.queries import catalogue_languages
from ..services import services
from .publish import SHELL_ROLE, try_publish

prompts_cli = AppGroup("prompts", help="Prompt audio: status, gTTS renders, staff recordings, the script.")
REBUILT_HINT = (
    "  ({} rebuilt from the files after the manifest was lost: never played until confirmed; "
    "listen with `ivr prompts history ID`, then `ivr prompts confirm ID`)"
)


def _lib() -> AudioLibrary:
    return services().audio


def _flow() -> Flow:
    return services().live.current().flow


def _lang_option(func):  # type: ignore[no-untyped-def]
    return click.option("--lang", "lang", metavar="LANG", help="One language, e.g. en-GB.")(func)


def _check_lang(flow: Flow, lang: str | None) -> str | None:
    if lang and lang not in flow.catalogue.languages:
        raise click.BadParameter(
            f"{lang!r} is not one of {', '.join(catalogue_languages(flow))}", param_hint="--lang"
        )
    return lang


def _history(flow: Flow, prompt_id: str, lang: str, slow: bool) -> list[AudioVersion]:
    """Return the versions of a prompt's audio, newest first (none for a prompt the flow lacks)."""
    return _lib().history(flow, prompt_id, lang, slow) if flow.catalogue.has(prompt_id, lang) else []


def _changed(flow: Flow, before: list[AudioVersion], prompt_id: str, lang: str, slow: bool) -> str:
    """Say how a prompt's audio changed since its history was `before`."""
    return audit.audio_change(before, _history(flow, prompt_id, lang, slow)) or "no change"


def _audit(action: str, prompt_id: str, lang: str, slow: bool, detail: str) -> None:
    """Add to the audit log what the person at the shell did to a prompt's audio."""
    subject = audit.prompt_subject(prompt_id, lang, slow)
    audit.record(services().engine, audit.shell_user(), action, subject, detail)


@prompts_cli.command("status")
@_lang_option
@click.option("--stale", "not_fresh", is_flag=True, help="Only prompts that are stale or missing.")
def status(lang: str | None, not_fresh: bool) -> None:
    """Show, per language, which prompts are fresh, stale or missing, and from what source."""
    serving = services().live.current()
    flow = serving.flow
    rows = _lib().status(flow, _check_lang(flow, lang))
    for code in catalogue_languages(flow):
        mine = [r for r in rows if r.lang == code]
        if not mine:
            continue
        language = flow.catalogue.languages[code]
        counts = Counter(r.state for r in mine)
        sources = Counter(r.source for r in mine if r.state == "fresh")
        offered = code in serving.renderer.offered  # what callers get now, audio included
        click.secho(
            f"{code} {language.name} (texts {language.review}; "
            f"{'offered' if offered else 'NOT offered'} to callers): {len(mine)} prompts: "
            f"{counts['fresh']} fresh ({sources['recording']} recorded, {sources['tts']} gTTS), "
            f"{counts['stale']} stale, {counts['missing']} missing",
            bold=True,
        )
        if not offered:
            click.echo(f"  (not offered: {availability(flow, code, _lib().present(flow)).reason})")
        if not (flow.voices.get(code) and flow.voices[code].gtts.get("lang")):
            click.echo("  (no gTTS voice: recordings only)")
        rebuilt = sum(1 for r in mine if r.rebuilt)
        if rebuilt:
            click.echo(REBUILT_HINT.format(rebuilt))
        for r in mine:
            if not_fresh and r.state == "fresh":
                continue
            colour = {"fresh": "green", "stale": "yellow", "missing": "red"}[r.state]
            name = r.prompt_id + (" (slow)" if r.slow else "")
            duration = f"{r.duration:5.1f} s" if r.duration is not None else "      -"
            made = (r.made_at or "")[:16].replace("T", " ")
            state = click.style(f"{r.state:8}", fg=colour)
            note = f"  ({r.problem})" if r.problem else "  (rebuilt, unconfirmed)" if r.rebuilt else ""
            click.echo(f"  {name:34} {state}{r.source or '-':10} {duration}  {made}{note}")


@prompts_cli.command("render")
@click.argument("prompt_ids", nargs=-1, metavar="[ID]...")
@_lang_option
@click.option("--only-missing", "mode", flag_value="missing", help="Render only prompts with no audio.")
@click.option("--all", "mode", flag_value="all", help="Render again every prompt not recorded by staff.")
@click.option("--hold", is_flag=True, help="Keep the renders as candidates: publish later.")
def render_command(prompt_ids: tuple[str, ...], lang: str | None, mode: str | None, hold: bool) -> None:
    """Render missing and stale prompts (or only the IDs given) with gTTS; never a fresh recording."""
    flow = _flow()
    lib = _lib()
    known = {pid for language in flow.catalogue.languages.values() for pid in language.texts}
    unknown = [pid for pid in prompt_ids if pid not in known]
    if unknown:
        raise click.BadParameter(f"no prompt {', '.join(unknown)}", param_hint="ID")
    jobs, report = plan(lib, flow, _check_lang(flow, lang), mode or "stale", prompt_ids)

    settings = services().settings
    before = [_history(flow, job.prompt_id, job.lang, job.slow) for job in jobs]
    if jobs:
        with click.progressbar(
            jobs, label=f"Rendering {len(jobs)} prompt(s)", item_show_func=_job_name, file=sys.stderr
        ) as bar:
            render(lib, flow, bar, report, settings.tts_retries, settings.tts_backoff)
    _audit_renders(flow, jobs, before, report)
    held = 0
    for job in jobs:  # each new render is a candidate: live only if the caller's rules pass with it
        if lib.entry(job.prompt_id, job.lang, job.slow).get("candidate") is not None:
            held += 0 if try_publish(job.prompt_id, job.lang, job.slow, hold) or hold else 1
    for label, reason in report.failed:
        click.echo(f"failed: {label}: {reason}", err=True)
    click.echo(
        f"{len(report.rendered)} rendered, {len(report.reused)} staff recording(s) reinstated, "
        f"{report.kept_recordings} staff recording(s) kept, {len(report.failed)} failed"
        + (f", {len(report.no_voice)} without a gTTS voice (record them)" if report.no_voice else "")
        + (f", {len(report.waiting)} waiting to go live (`ivr prompts pending`)" if report.waiting else "")
    )
    if report.unreachable:
        click.echo(
            f"gTTS cannot be reached ({report.unreachable}).\n"
            f"{report.skipped} prompt(s) were not rendered. The line keeps working: prompts without "
            "fresh audio are spoken with <Say>. Run `ivr prompts render` again when the network is back.",
            err=True,
        )
        sys.exit(1)
    if held:
        click.echo(f"{held} render(s) kept as candidates: they break the caller's rules", err=True)
    if report.failed or held:
        sys.exit(1)
    if not jobs:
        click.echo(
            "Nothing to render: every prompt has fresh audio"
            + (", or a candidate waiting to go live." if report.waiting else ".")
        )


def _audit_renders(
    flow: Flow, jobs: list[RenderJob], before: list[list[AudioVersion]], report: RenderReport
) -> None:
    """Add each prompt a render run changed to the audit log, with the versions before and after."""
    reused = set(report.reused)
    for job, was in zip(jobs, before, strict=True):
        change = audit.audio_change(was, _history(flow, job.prompt_id, job.lang, job.slow))
        if change is None:
            continue
        label = f"{job.lang}/{job.prompt_id}" + (" (slow)" if job.slow else "")
        how = "a staff recording of this text again" if label in reused else "gTTS"
        _audit("render", job.prompt_id, job.lang, job.slow, f"{change}: {how}")


def _job_name(job: object) -> str:
    return f"{job.lang}/{job.prompt_id}" if job is not None else ""  # type: ignore[attr-defined]


@prompts_cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_lang_option
@click.option("--slow", is_flag=True, help="The recordings are the slow-speech versions.")
@click.option(
    "--hold", is_flag=True, help="Keep them as candidates: publish later with `ivr prompts publish`."
)
def import_command(paths: tuple[Path, ...], lang: str | None, slow: bool, hold: bool) -> None:
    """Import staff recordings named by prompt id (LANG/prompt_id.wav, or --lang), any common format."""
    flow = _flow()
    lib = _lib()
    _check_lang(flow, lang)
    rejected = held = 0
    for file in _audio_files(paths):
        code = lang or (file.parent.name if file.parent.name in flow.catalogue.languages else None)
        if code is None and len(flow.catalogue.languages) == 1:
            code = flow.default_language
        if code is None:
            click.echo(f"rejected {file}: put it in a language folder (e.g. en-GB/) or give --lang", err=True)
            rejected += 1
            continue
        was = _history(flow, file.stem, code, slow)
        try:
            row = lib.import_recording(
                flow, file.stem, code, file, file.name, slow=slow, by=audit.shell_user(), role=SHELL_ROLE
            )
        except AudioError as exc:
            click.echo(f"rejected {file}: {exc.reason}", err=True)
            rejected += 1
            continue
        change = _changed(flow, was, row.prompt_id, code, slow)
        _audit("import", row.prompt_id, code, slow, f"{change}: {file.name}")
        speed = " (slow)" if slow else ""
        made = next((v for v in lib.history(flow, row.prompt_id, code, slow) if v.candidate), None)
        seconds = f": {made.duration:.1f} s" if made else " (the same audio as before)"
        click.echo(f"imported {file} as {code}/{row.prompt_id}{speed}{seconds}")
        if made is not None and not try_publish(row.prompt_id, code, slow, hold) and not hold:
            held += 1
    if held:
        click.echo(f"{held} recording(s) kept as candidates: they break the caller's rules", err=True)
    if rejected:
        click.echo(f"{rejected} file(s) rejected; nothing was changed for them", err=True)
    if rejected or held:
        sys.exit(1)


def _audio_files(paths: tuple[Path, ...]) -> list[Path]:
    """Expand folders (and their language subfolders) into the audio files they hold."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = path.rglob("*")
            found += sorted(p for p in inside if p.suffix.lower() in IMPORT_EXTENSIONS and p.is_file())
        else:
            found.append(path)
    return found


@prompts_cli.command("history")
@click.argument("prompt_id")
@_lang_option
@click.option("--slow", is_flag=True, help="The slow-speech versions.")
def history(prompt_id: str, lang: str | None, slow: bool) -> None:
    """List every kept version of a prompt's audio, newest first."""
    flow = _flow()
    code = _check_lang(flow, lang) or flow.default_language
    versions = _lib().history(flow, prompt_id, code, slow)
    if not versions:
        click.echo(f"{code}/{prompt_id}: no audio yet")
        return
    for v in versions:
        mark = "*" if v.current else "+" if v.candidate else " "
        text = "rebuilt, unconfirmed" if v.rebuilt else "today's text" if v.fresh else "older text"
        name = f"  ({v.original_name})" if v.original_name else ""
        click.echo(
            f"{mark} v{v.version:<3} {v.made_at[:19].replace('T', ' ')}  {v.source:9} {v.duration:5.1f} s  "
            f"{text}  {v.url}{name}"
        )


@prompts_cli.command("rollback")
@click.argument("prompt_id")
@_lang_option
@click.option("--slow", is_flag=True, help="The slow-speech version.")
@click.option(
    "--hold", is_flag=True, help="Keep it as a candidate: publish later with `ivr prompts publish`."
)
def rollback(prompt_id: str, lang: str | None, slow: bool, hold: bool) -> None:
    """Make the version before the current one a candidate, and publish it if the caller's rules pass."""
    flow = _flow()
    code = _check_lang(flow, lang) or flow.default_language
    if not flow.catalogue.has(prompt_id, code):
        raise click.BadParameter(f"there is no prompt {prompt_id!r} in {code}", param_hint="PROMPT_ID")
    was = _history(flow, prompt_id, code, slow)
    try:
        row = _lib().rollback(flow, prompt_id, code, slow)
    except AudioError as exc:
        click.echo(f"cannot roll back: {exc.reason}", err=True)
        sys.exit(1)
    _audit("rollback", prompt_id, code, slow, _changed(flow, was, prompt_id, code, slow))
    click.echo(f"{code}/{prompt_id}: version {row.candidate} waits to go live")
    if not try_publish(prompt_id, code, slow, hold) and not hold:
        sys.exit(1)


@prompts_cli.command("confirm")
@click.argument("prompt_ids", nargs=-1, required=True, metavar="ID...")
@_lang_option
@click.option("--slow", is_flag=True, help="The slow-speech version.")
@click.option("--version", "version", type=int, help="A version (`ivr prompts history`); default: current.")
@click.option("--source", type=click.Choice(SOURCES), help="What it is (default: as known, else recording).")
def confirm(
    prompt_ids: tuple[str, ...], lang: str | None, slow: bool, version: int | None, source: str | None
) -> None:
    """Vouch for audio rebuilt from its file after the manifest was lost: it says today's text; play it."""
    flow = _flow()
    code = _check_lang(flow, lang) or flow.default_language
    failed = 0
    for prompt_id in prompt_ids:
        was = _history(flow, prompt_id, code, slow)
        try:
            row = _lib().confirm(flow, prompt_id, code, slow, version, source)
        except AudioError as exc:
            click.echo(f"cannot confirm {code}/{prompt_id}: {exc.reason}", err=True)
            failed += 1
            continue
        now = _history(flow, prompt_id, code, slow)
        change = audit.audio_change(was, now) or f"version {audit.playing(now)}"
        _audit("confirm", prompt_id, code, slow, f"{change}: rebuilt {row.source} vouched for")
        click.echo(f"{code}/{prompt_id} now plays its {row.source} {row.url} ({row.state})")
    if failed:
        sys.exit(1)


@prompts_cli.command("script")
@_lang_option
@click.option("--stale", "not_fresh", is_flag=True, help="Only prompts that are stale or missing.")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("recording-script"),
    show_default=True,
    help="Folder to write the script to.",
)
def script(lang: str | None, not_fresh: bool, out: Path) -> None:
    """Write a recording script (HTML and CSV) per language for a voice artist."""
    flow = _flow()
    rows = _lib().status(flow, _check_lang(flow, lang))
    if not_fresh:
        rows = [r for r in rows if r.state != "fresh"]
    out.mkdir(parents=True, exist_ok=True)
    for code in catalogue_languages(flow):
        mine = [r for r in rows if r.lang == code]
        if not mine:
            continue
        lines = audio_script.lines(flow, mine)
        name = flow.catalogue.languages[code].name
        title = f"Recording script: {name} ({code}), flow {flow.version}"
        (out / f"script-{code}.html").write_text(audio_script.to_html(lines, title), encoding="utf-8")
        (out / f"script-{code}.csv").write_text(audio_script.to_csv(lines), encoding="utf-8", newline="")
        click.echo(f"{out / f'script-{code}.html'} and .csv: {len(lines)} prompt(s)")
    if not rows:
        click.echo("Nothing to record: every prompt has fresh audio.")
