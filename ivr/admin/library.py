"""The prompt library for staff: every prompt's text and audio, replacements, history and rollback."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..audio.library import IMPORT_EXTENSIONS, AudioError, AudioLibrary
from ..flow import Flow
from ..flow.queries import declared_languages
from ..services import services
from .console import bp
from .review import readable

log = logging.getLogger(__name__)

STATES = ("fresh", "stale", "missing")
# The first bytes of the containers a recording can come in; the audio library decodes it for real.
MAGIC = (b"RIFF", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1", b"\xff\xf9", b"OggS",
         b"\x1a\x45\xdf\xa3", b"fLaC")  # fmt: skip
UPLOAD_ENDPOINTS = {"admin.upload"}


def audio_library() -> AudioLibrary:
    """Return the running app's audio library."""
    return services().audio


def looks_like_audio(head: bytes) -> bool:
    """Tell whether a file starts like an audio container we accept (MP4/M4A has 'ftyp' at 4)."""
    return head.startswith(MAGIC) or head[4:8] == b"ftyp"


def _rows(flow: Flow) -> list[Any]:
    return list(audio_library().status(flow))


def _known(flow: Flow, prompt_id: str, lang: str) -> None:
    if lang not in declared_languages(flow) or not flow.catalogue.has(prompt_id, lang):
        abort(404)


@bp.get("/prompts")
def prompts() -> str:
    """List every prompt per language with its text, state, source, duration and a player."""
    flow = services().live.current().flow
    lang = request.args.get("lang", "")
    lang = lang if lang in declared_languages(flow) else flow.default_language
    state = request.args.get("state", "")
    rows = [r for r in _rows(flow) if r.lang == lang]
    counts = {s: sum(1 for r in rows if r.state == s) for s in STATES}
    if state in STATES:
        rows = [r for r in rows if r.state == state]
    return render_template(
        "admin/prompts.html",
        languages=declared_languages(flow),
        rows=rows,
        lang=lang,
        state=state,
        states=STATES,
        counts=counts,
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
    return render_template(
        "admin/prompt.html",
        row=row,
        prompt_id=prompt_id,
        lang=lang,
        slow=slow,
        text=readable(flow, prompt_id, lang),
        history=history,
        limit_mb=services().settings.admin_upload_bytes // (1024 * 1024),
        accept=",".join(sorted(IMPORT_EXTENSIONS)) + ",audio/*",
    )


def _slow() -> bool:
    """Tell whether the request is about a prompt's slower speech (?slow=1) rather than its normal one."""
    return request.args.get("slow") == "1"


def _answer(ok: bool, message: str, prompt_id: str, lang: str, status: int = 200) -> Response:
    """Answer the page's recorder with JSON, and a plain form with a message and a redirect."""
    if request.headers.get("X-Requested-With") == "fetch":
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
    try:
        upload.save(temp)
        lib.import_recording(flow, prompt_id, lang, Path(temp), original, slow=_slow())
    except AudioError as exc:
        return _answer(False, f"{original}: refused: {exc.reason}", prompt_id, lang, 400)
    finally:
        Path(temp).unlink(missing_ok=True)
    services().live.refresh()
    log.info("prompt %s (%s) replaced from an upload", prompt_id, lang)
    return _answer(True, f"{prompt_id} ({lang}) now plays your recording.", prompt_id, lang)


@bp.post("/prompts/<prompt_id>/<lang>/rollback")
def rollback(prompt_id: str, lang: str) -> Response:
    """Go back to the audio this prompt had before its latest change."""
    flow = services().live.current().flow
    _known(flow, prompt_id, lang)
    lib = audio_library()
    try:
        lib.rollback(flow, prompt_id, lang, slow=_slow())
    except AudioError as exc:
        return _answer(False, f"Nothing to roll back to: {exc.reason}", prompt_id, lang, 400)
    services().live.refresh()
    return _answer(True, f"{prompt_id} ({lang}) is back to its previous audio.", prompt_id, lang)
