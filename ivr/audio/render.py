"""Rendering prompts with gTTS: choose what needs it, retry transient errors, install atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from ..flow import Flow
from ..flow.queries import catalogue_languages, prompt_order
from . import sound, tts
from .library import AudioLibrary, AudioRejected, PromptAudio

log = logging.getLogger(__name__)

MODES = ("stale", "missing", "all")  # default: missing and stale; --only-missing; --all


@dataclass
class RenderJob:
    """One prompt to render at one rate."""

    prompt_id: str
    lang: str
    slow: bool


@dataclass
class RenderReport:
    """What a render run did."""

    rendered: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    kept_recordings: int = 0
    no_voice: list[str] = field(default_factory=list)
    unreachable: str | None = None
    skipped: int = 0  # jobs not attempted because the service could not be reached
    waiting: list[str] = field(default_factory=list)  # a candidate of today's text waits to be published


def plan(
    lib: AudioLibrary, flow: Flow, lang: str | None = None, mode: str = "stale", only: tuple[str, ...] = ()
) -> tuple[list[RenderJob], RenderReport]:
    """Return the prompts a run must render (of `only`, if given), and a report of what it leaves."""
    report = RenderReport()
    jobs: list[RenderJob] = []
    for code in catalogue_languages(flow):
        if lang and code != lang:
            continue
        voice = flow.voices.get(code)
        renderable = bool(voice and voice.gtts.get("lang"))
        for pid in prompt_order(flow, code):
            if only and pid not in only:
                continue
            for slow in lib.rates(flow, code, pid):
                row = lib.prompt(flow, pid, code, slow)
                if mode != "all" and _waiting(lib, row):
                    report.waiting.append(_label(row))  # made already: it waits for `ivr prompts publish`
                    continue
                if not needs(row, mode):
                    if row.source == "recording" and row.state == "fresh":
                        report.kept_recordings += 1
                    continue
                if not renderable:
                    report.no_voice.append(_label(row))
                    continue
                jobs.append(RenderJob(pid, code, slow))
    return jobs, report


def _waiting(lib: AudioLibrary, row: PromptAudio) -> bool:
    """Tell whether a candidate made from the prompt's text as it is today waits to be published."""
    if row.candidate is None:
        return False
    entry = lib.entry(row.prompt_id, row.lang, row.slow)
    version = next((v for v in entry.get("versions", []) if v["version"] == row.candidate), None)
    return version is not None and version["text_hash"] == row.text_hash


def needs(row: PromptAudio, mode: str) -> bool:
    """Tell whether a prompt is to be rendered in a mode; a fresh staff recording never is."""
    if row.state == "fresh" and row.source == "recording":
        return False
    if mode == "missing":
        return row.state == "missing"
    if mode == "all":
        return True
    return row.state != "fresh"


def render(
    lib: AudioLibrary,
    flow: Flow,
    jobs: Iterable[RenderJob],
    report: RenderReport,
    retries: int = 3,
    backoff: float = 1.0,
    synthesize: Callable[..., bytes] = tts.synthesize,
    sleep: Callable[[float], None] = time.sleep,
) -> RenderReport:
    """Render each job through gTTS and install it; stop early if gTTS cannot be reached at all."""
    lib.clean_work()
    todo = list(jobs)
    for index, job in enumerate(todo):
        label = f"{job.lang}/{job.prompt_id}" + (" (slow)" if job.slow else "")
        if lib.prompt(flow, job.prompt_id, job.lang, job.slow).state == "stale" and lib.reinstate(
            flow, job.prompt_id, job.lang, job.slow, "recording"
        ):
            report.reused.append(label)  # the text went back to what a kept recording says
            continue
        settings = flow.voices[job.lang].gtts
        text = flow.catalogue.text(job.prompt_id, job.lang)
        try:
            audio = _with_retries(partial(synthesize, text, settings, job.slow), retries, backoff, sleep)
        except tts.SpeechError as exc:
            if exc.unreachable:
                # Out of reach even after retries: stop rather than wait through every remaining
                # prompt's retries. What was rendered is installed; the rest stays on <Say>.
                report.unreachable = str(exc)
                report.skipped = len(todo) - index
                return report
            report.failed.append((label, str(exc)))
            continue
        with lib.workdir() as work:
            mp3 = work / "gtts.mp3"
            mp3.write_bytes(audio)
            out = work / ("out" + sound.EXTENSION)
            try:
                duration = lib.convert(mp3, out)
            except AudioRejected as exc:
                report.failed.append((label, f"gTTS audio unusable: {exc.reason}"))
                continue
            lib.install(flow, job.prompt_id, job.lang, job.slow, out, "tts", duration)
        report.rendered.append(label)
    return report


def _with_retries(
    attempt: Callable[[], bytes], retries: int, backoff: float, sleep: Callable[[float], None]
) -> bytes:
    """Call attempt; on a transient SpeechError wait backoff, 2*backoff, … and try again."""
    for number in range(retries + 1):
        try:
            return attempt()
        except tts.SpeechError as exc:
            if not exc.transient or number == retries:
                raise
            delay = backoff * (2**number)
            log.info("gTTS failed (%s); trying again in %.1f s", exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _label(row: PromptAudio) -> str:
    return f"{row.lang}/{row.prompt_id}" + (" (slow)" if row.slow else "")
