"""The prompt library for staff: every prompt's text and audio, replacements, history and rollback."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from .. import audit
from ..audio import publishing
from ..audio.library import IMPORT_EXTENSIONS, AudioError, AudioLibrary
from ..audio.versions import PromptAudio
from ..flow import Flow
from ..flow.queries import declared_languages, places
from ..services import services
from .console import bp
from .review import readable

log = logging.getLogger(__name__)

STATES = ("fresh", "stale", "missing")
# The first bytes of the containers a recording can come in; the audio library decodes it for real.
MAGIC = (b"RIFF", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1", b"\xff\xf9", b"OggS",
         b"\x1a\x45\xdf\xa3", b"fLaC")  # fmt: skip
UPLOAD_ENDPOINTS = {"admin.upload"}
# The name the page's recorder (static/recorder.js) gives a take made in the browser.
BROWSER_TAKE = "browser-recording."


def audio_library() -> AudioLibrary:
    """Return the running app's audio library."""
    return services().audio


def looks_like_audio(head: bytes) -> bool:
    """Tell whether a file starts like an audio container we accept (MP4/M4A has 'ftyp' at 4)."""
    return head.startswith(MAGIC) or head[4:8] == b"ftyp"


def _rows(flow: Flow) -> list[PromptAudio]:
    return list(audio_library().status(flow))


def _known(flow: Flow, prompt_id: str, lang: str) -> None:
    if lang not in declared_languages(flow) or not flow.catalogue.has(prompt_id, lang):
        abort(404)


@dataclass(frozen=True)
class LibraryFilters:
    """What the prompt library was asked to show: GET parameters, checked."""

    lang: str
    text: str  # words of the text, or part of the id
    state: str  # fresh | stale | missing | "" for all
    waiting: bool  # only prompts with a candidate waiting to go live
    critical: bool  # only safety-critical prompts

    def keeps(self, row: PromptAudio, critical: set[str]) -> bool:
        """Tell whether a row of the library passes every filter."""
        wanted = self.text.casefold()
        return (
            (not wanted or wanted in row.prompt_id.casefold() or wanted in row.text.casefold())
            and (not self.state or row.state == self.state)
            and (not self.waiting or row.candidate is not None)
            and (not self.critical or row.prompt_id in critical)
        )

    @property
    def narrowed(self) -> bool:
        """Tell whether any filter but the language is set."""
        return bool(self.text or self.state or self.waiting or self.critical)


def _library_filters(flow: Flow) -> LibraryFilters:
    """Read the library's filters from the query string; anything unknown is left out."""
    lang = request.args.get("lang", "")
    state = request.args.get("state", "")
    return LibraryFilters(
        lang=lang if lang in declared_languages(flow) else flow.default_language,
        text=" ".join(request.args.get("q", "").split())[:100],
        state=state if state in STATES else "",
        waiting=request.args.get("waiting") == "1",
        critical=request.args.get("critical") == "1",
    )


@bp.get("/prompts")
def prompts() -> str:
    """List the prompts of a language, found by words or id, state, waiting candidate or safety."""
    flow = services().live.current().flow
    found = _library_filters(flow)
    critical = publishing.safety_critical(flow)
    every = [r for r in _rows(flow) if r.lang == found.lang]
    return render_template(
        "admin/prompts.html",
        languages=declared_languages(flow),
        rows=[r for r in every if found.keeps(r, critical)],
        total=len(every),
        filters=found,
        lang=found.lang,
        states=STATES,
        counts={s: sum(1 for r in every if r.state == s) for s in STATES},
        waiting=sum(1 for r in every if r.candidate is not None),
        critical=critical,
        where=places(flow),
        flow=flow,
    )


@bp.get("/prompts/<prompt_id>/<lang>")
def prompt(prompt_id: str, lang: str) -> str:
    """Show one prompt: its text, its audio now, its history; replace it or roll it back."""
    flow = services().live.current().flow
    _known(flow, prompt_id, lang)
    lib = audio_library()
    slow = _slow()
    row = next(
        (r for r in _rows(flow) if r.prompt_id == prompt_id and r.lang == lang and bool(r.slow) == slow), None
    )
    history = list(lib.history(flow, prompt_id, lang, slow))
    waiting = next((h for h in history if h.candidate), None)
    findings = publishing.findings_for(lib, flow, prompt_id, lang, slow) if waiting else []
    critical = prompt_id in publishing.safety_critical(flow)
    maker = lib.entry(prompt_id, lang, slow)
    made_by = {v["version"]: (v.get("by", ""), v.get("role", "")) for v in maker.get("versions", [])}
    return render_template(
        "admin/prompt.html",
        row=row,
        waiting=waiting,
        findings=findings,
        critical=critical,
        made_by=made_by,
        where=places(flow).get(prompt_id, []),
        prompt_id=prompt_id,
        lang=lang,
        slow=slow,
        text=readable(flow, prompt_id, lang),
        history=history,
        limit_bytes=services().settings.admin_upload_bytes,
        limit_mb=f"{services().settings.admin_upload_bytes / (1024 * 1024):.3g}",
        accept=",".join(sorted(IMPORT_EXTENSIONS)) + ",audio/*",
    )


def _slow() -> bool:
    """Tell whether the request is about a prompt's slower speech (?slow=1) rather than its normal one."""
    return request.args.get("slow") == "1"


def _record(action: str, prompt_id: str, lang: str, detail: str) -> None:
    """Add to the audit log what the signed-in user did to a prompt's audio."""
    subject = audit.prompt_subject(prompt_id, lang, _slow())
    audit.record(services().engine, current_user.name, action, subject, detail)


def _answer(ok: bool, message: str, prompt_id: str, lang: str, status: int = 200) -> Response:
    """Answer the page's recorder with JSON, and a plain form with a message and a redirect."""
    if request.headers.get("X-Requested-With") == "fetch":
        if ok:
            flash(
                message, "info"
            )  # the recorder reloads the page: the message is shown, and announced, there
        response = jsonify({"ok": ok, "message": message})
        response.status_code = status
        return response
    flash(message, "info" if ok else "error")
    extra: dict[str, Any] = {"slow": "1"} if _slow() else {}
    return redirect(url_for("admin.prompt", prompt_id=prompt_id, lang=lang, **extra))


@bp.post("/prompts/<prompt_id>/<lang>/upload")
def upload(prompt_id: str, lang: str) -> Response:
    """Take a replacement recording (a file, or one made in the browser) through the CLI's checks."""
    flow = services().live.current().flow
    _known(flow, prompt_id, lang)
    lib = audio_library()
    upload = request.files.get("audio")
    if upload is None or not upload.filename:
        return _answer(False, "Choose a file to upload.", prompt_id, lang, 400)
    # Kept as the person named it (shown escaped); only its last path part, and not too long.
    original = upload.filename.replace("\\", "/").rsplit("/", 1)[-1].strip()[:120] or "recording"
    suffix = Path(original).suffix.lower()
    if suffix not in IMPORT_EXTENSIONS:
        return _answer(False, f"{original}: not an audio file this line takes.", prompt_id, lang, 400)
    head = upload.stream.read(12)
    upload.stream.seek(0)
    if not looks_like_audio(head):
        return _answer(False, f"{original}: this file is not audio.", prompt_id, lang, 400)
    fd, temp = tempfile.mkstemp(suffix=suffix, prefix="upload-")
    os.close(fd)
    before = lib.history(flow, prompt_id, lang, _slow())
    try:
        upload.save(temp)
        lib.import_recording(
            flow,
            prompt_id,
            lang,
            Path(temp),
            original,
            slow=_slow(),
            by=current_user.name,
            role=current_user.role,
        )
    except AudioError as exc:
        return _answer(False, f"{original}: refused: {exc.reason}", prompt_id, lang, 400)
    finally:
        Path(temp).unlink(missing_ok=True)
    services().live.refresh()
    change = audit.audio_change(before, lib.history(flow, prompt_id, lang, _slow())) or "no change"
    action = "record" if original.startswith(BROWSER_TAKE) else "upload"
    _record(action, prompt_id, lang, f"{change}: {original}")
    log.info("prompt %s (%s): a recording waits to be published", prompt_id, lang)
    message = f"{prompt_id} ({lang}): your recording waits as a candidate. Hear it, then make it live."
    return _answer(True, message, prompt_id, lang)


@bp.post("/prompts/<prompt_id>/<lang>/rollback")
def rollback(prompt_id: str, lang: str) -> Response:
    """Go back to the audio this prompt had before its latest change."""
    flow = services().live.current().flow
    _known(flow, prompt_id, lang)
    lib = audio_library()
    before = lib.history(flow, prompt_id, lang, _slow())
    try:
        lib.rollback(flow, prompt_id, lang, slow=_slow())
    except AudioError as exc:
        return _answer(False, f"Nothing to roll back to: {exc.reason}", prompt_id, lang, 400)
    services().live.refresh()
    change = audit.audio_change(before, lib.history(flow, prompt_id, lang, _slow())) or "no change"
    _record("rollback", prompt_id, lang, change)
    message = f"{prompt_id} ({lang}): the previous audio waits as a candidate. Hear it, then make it live."
    return _answer(True, message, prompt_id, lang)


@bp.post("/prompts/<prompt_id>/<lang>/publish")
def publish(prompt_id: str, lang: str) -> Response:
    """Make a version live (the candidate, or any kept one), if the caller's rules pass with it."""
    flow = services().live.current().flow
    _known(flow, prompt_id, lang)
    lib = audio_library()
    if request.form.get("confirm") != "yes":
        return _answer(False, "Tick the box to confirm that you have listened to it.", prompt_id, lang, 400)
    number = request.form.get("version", "")
    version = int(number) if number.isdigit() else None
    override = request.form.get("override") == "yes" and current_user.is_admin
    before = lib.history(flow, prompt_id, lang, _slow())
    try:
        publishing.publish(
            lib,
            flow,
            prompt_id,
            lang,
            _slow(),
            version,
            by=current_user.name,
            role=current_user.role,
            override=override,
        )
    except publishing.PublishRefused as refused:
        why = "; ".join(str(f) for f in refused.findings)
        return _answer(False, f"Not made live: {why}", prompt_id, lang, 400)
    except AudioError as exc:
        return _answer(False, f"Not made live: {exc.reason}", prompt_id, lang, 400)
    services().live.refresh()
    after = lib.history(flow, prompt_id, lang, _slow())
    change = audit.audio_change(before, after) or "no change"
    approving = any(h.current and h.published.endswith("(approved)") for h in after)
    _record(
        "approve" if approving else "publish",
        prompt_id,
        lang,
        change + (" (rules overridden)" if override else ""),
    )
    return _answer(
        True, f"{prompt_id} ({lang}) is live: callers hear it from the next call.", prompt_id, lang
    )
