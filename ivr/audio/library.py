"""The audio library: prompt audio files under audio/, their manifest, freshness, import, history
and rollback. Files are named by a hash of their content, so no cache ever serves an old one.

The library knows nothing of the live flow: every question takes the flow it is about, and
`generation` tells whoever built something from the audio (the live TwiML) that it changed."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import has_request_context, request

from ..flow import Flow
from ..flow.queries import catalogue_languages, prompt_order
from . import sound
from .recover import UNKNOWN
from .store import AudioError, AudioStore, fsync_path, key_of
from .store import current_version as _current
from .versions import AudioVersion, PromptAudio, now_iso

log = logging.getLogger(__name__)
# What a request's root URL is made of (werkzeug's `get_current_url`): one key per way in.
URL_PARTS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")

__all__ = ["AudioError", "AudioLibrary", "AudioRejected", "AudioVersion", "PromptAudio", "key_of"]

# Limits on staff recordings: a prompt longer than this is a mistake, not a prompt.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_SECONDS = 120.0
MIN_SECONDS = 0.3
MIN_LUFS = -45.0  # quieter than this (integrated loudness) is a recording that failed
# What staff may bring: any of these is decoded by ffmpeg and converted (the CLI and the console).
IMPORT_EXTENSIONS = (".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".webm", ".flac", ".aac")
SOURCES = ("recording", "tts")


class AudioRejected(AudioError):
    """A file that cannot become a prompt's audio (empty, not audio, too long, too quiet…)."""


class AudioUrls:
    """The URLs of a flow's fresh audio, for the Renderer: absolute, under the public base URL."""

    def __init__(self, library: AudioLibrary, flow: Flow) -> None:
        self.library = library
        self.flow = flow

    def __call__(self, prompt_id: str, lang: str, slow: bool) -> str | None:
        """Return the absolute URL of a prompt's fresh audio, or None to speak it with <Say>."""
        root = self.cache_key()
        if not root:
            # No request and no IVR_PUBLIC_URL: no absolute URL can be made, so <Say>.
            return None
        name = self.library.fresh_file(self.flow, prompt_id, lang, slow)
        return f"{root}/audio/{name}" if name else None

    def cache_key(self) -> str:
        """Return what the URLs depend on: the public base URL (configured, else the request's)."""
        return self.library.base_url()


class AudioLibrary(AudioStore):
    """Prompt audio on disk: what plays, what is stale, and every version kept for rollback."""

    def __init__(self, root: Path, public_url: str = "", check_seconds: float = 1.0) -> None:
        super().__init__(root, check_seconds)
        self.public_url = public_url.rstrip("/")
        self._roots: dict[tuple[object, ...], str] = {}  # URL_PARTS of the environ -> root URL

    # -- reading -------------------------------------------------------------------------------

    def urls(self, flow: Flow) -> AudioUrls:
        """Return the lookup of absolute audio URLs for a flow's texts (the Renderer's AudioLookup)."""
        return AudioUrls(self, flow)

    def fresh_file(self, flow: Flow, prompt_id: str, lang: str, slow: bool) -> str | None:
        """Return the path under audio/ of a prompt's fresh, playable audio for a flow's text, or None."""
        version = _current(self._entries.get(key_of(prompt_id, lang, slow)))
        if version is None:
            return None
        catalogue = flow.catalogue
        if not catalogue.has(prompt_id, lang) or version["text_hash"] != catalogue.text_hash(prompt_id, lang):
            return None
        if not self.playable(version["file"]):
            return None
        return str(version["file"])

    def present(self, flow: Flow) -> Callable[[str, str, bool], str | None]:
        """Return a lookup that tells which prompts of a flow have fresh audio, with or without a request.

        Which languages callers are offered is decided with it (at start-up, after the CLI changed
        the audio, after a text was edited): it needs no URL, and judges audio by that flow's texts.
        """
        return lambda prompt_id, lang, slow: self.fresh_file(flow, prompt_id, lang, slow)

    def durations(self, flow: Flow) -> Callable[[str, str], float | None]:
        """Return the measured length of each prompt's fresh audio (normal speed) for a flow's texts."""
        fresh = {
            (a.prompt_id, a.lang): float(a.duration)
            for a in self.status(flow)
            if a.state == "fresh" and not a.slow and a.duration
        }
        return lambda pid, lang: fresh.get((pid, lang))

    def base_url(self) -> str:
        """Return the base of audio URLs: IVR_PUBLIC_URL, else the URL of the request being answered."""
        if self.public_url:
            return self.public_url
        if not has_request_context():
            return ""
        # Keyed by what the URL is built from (after ProxyFix, which rewrites these in the environ):
        # read straight from the environ, cheaper than the request's computed properties.
        environ = request.environ
        key = tuple(environ.get(name) for name in URL_PARTS)
        found = self._roots.get(key)
        if found is None:  # built once per host a request arrives at, not for every request
            if len(self._roots) > 64:
                self._roots.clear()
            found = self._roots[key] = request.url_root.rstrip("/")
        return found

    def status(self, flow: Flow, lang: str | None = None) -> list[PromptAudio]:
        """Return every prompt of every language (or one), fresh, stale or missing, in flow order."""
        rows = []
        for code in catalogue_languages(flow):
            if lang and code != lang:
                continue
            for pid in prompt_order(flow, code):
                for slow in self.rates(flow, code, pid):
                    rows.append(self.prompt(flow, pid, code, slow))
        return rows

    def rates(self, flow: Flow, lang: str, prompt_id: str | None = None) -> list[bool]:
        """Return the speech rates kept for a language: normal, and slow where the flow asks for it."""
        voice = flow.voices.get(lang)
        asks = bool(voice and voice.gtts.get("slow"))
        has = prompt_id is not None and key_of(prompt_id, lang, True) in self._entries
        return [False, True] if asks or has else [False]

    def prompt(self, flow: Flow, prompt_id: str, lang: str, slow: bool = False) -> PromptAudio:
        """Return one prompt's audio state."""
        self.check()
        text = flow.catalogue.text(prompt_id, lang)
        text_hash = flow.catalogue.text_hash(prompt_id, lang)
        entry = self._entries.get(key_of(prompt_id, lang, slow)) or {}
        version = _current(entry)
        candidate = entry.get("candidate")
        if version is None:
            return PromptAudio(
                prompt_id, lang, slow, "missing", None, None, None, None, text, text_hash, candidate=candidate
            )
        problem = self.problem(version["file"])
        state = "stale" if version["text_hash"] != text_hash else "missing" if problem else "fresh"
        return PromptAudio(
            prompt_id=prompt_id,
            lang=lang,
            slow=slow,
            state=state,
            source=version["source"],
            duration=version["duration"],
            made_at=version["made_at"],
            url="/audio/" + version["file"],
            text=text,
            text_hash=text_hash,
            original_name=version.get("original_name"),
            problem=problem,
            rebuilt=bool(version.get("rebuilt")),
            candidate=candidate,
        )

    def history(self, flow: Flow, prompt_id: str, lang: str, slow: bool = False) -> list[AudioVersion]:
        """Return every version kept for a prompt, newest first, marking the current one."""
        self.check()
        has_text = flow is not None and flow.catalogue.has(prompt_id, lang)
        today = flow.catalogue.text_hash(prompt_id, lang) if flow is not None and has_text else ""
        entry = self._entries.get(key_of(prompt_id, lang, slow)) or {}
        current = entry.get("current")
        waiting = entry.get("candidate")
        return [
            AudioVersion(
                version=v["version"],
                source=v["source"],
                made_at=v["made_at"],
                text_hash=v["text_hash"],
                duration=v["duration"],
                current=v["version"] == current,
                fresh=v["text_hash"] == today,
                url="/audio/" + v["file"],
                original_name=v.get("original_name"),
                rebuilt=bool(v.get("rebuilt")),
                candidate=v["version"] == waiting,
                by=str(v.get("by", "")),
                published=str(v.get("published", "")),
            )
            for v in sorted(entry.get("versions", []), key=lambda v: v["version"], reverse=True)
        ]

    def entry(self, prompt_id: str, lang: str, slow: bool = False) -> dict[str, Any]:
        """Return a prompt's manifest entry (its versions, which is live, which waits), or {}."""
        self.check()
        return dict(self._entries.get(key_of(prompt_id, lang, slow)) or {})

    def entries(self) -> list[tuple[tuple[str, str, bool], dict[str, Any]]]:
        """Return every entry with its (prompt id, language, slow)."""
        self.check()
        found = []
        for key, entry in self._entries.items():
            lang, _, rest = key.partition("/")
            prompt_id, _, rate = rest.partition("@")
            found.append(((prompt_id, lang, rate == "slow"), entry))
        return found

    def is_served(self, name: str) -> bool:
        """Tell whether a path under audio/ is a file the manifest names (only those are served)."""
        self.check()
        return any(v["file"] == name for e in self._entries.values() for v in e.get("versions", []))

    # -- changing ------------------------------------------------------------------------------

    def import_recording(
        self,
        flow: Flow,
        prompt_id: str,
        lang: str,
        path: Path,
        original_name: str,
        slow: bool = False,
        by: str = "",
        role: str = "",
    ) -> PromptAudio:
        """Check and convert a staff recording into a candidate version; AudioRejected if unfit."""
        if not flow.catalogue.has(prompt_id, lang):
            raise AudioRejected(f"there is no prompt {prompt_id!r} in {lang}")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise AudioRejected(f"the file cannot be read: {exc.strerror}") from exc
        if size == 0:
            raise AudioRejected("the file is empty")
        if size > MAX_UPLOAD_BYTES:
            raise AudioRejected(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        with self.workdir() as work:
            target = work / ("out" + sound.EXTENSION)
            duration = self.convert(path, target)
            return self.install(
                flow, prompt_id, lang, slow, target, "recording", duration, original_name[:200], by, role
            )

    def convert(self, source: Path, target: Path) -> float:
        """Check a file and convert it to the telephony format; return its duration in seconds."""
        try:
            with sound.converting():  # a conversion at a time per process, niced: the calls come first
                sound.probe(source, MAX_SECONDS)  # cheap: a file that lasts too long goes here
                found = sound.measure(source, MAX_SECONDS)
                if found.seconds > MAX_SECONDS:
                    raise AudioRejected(f"the sound lasts more than {MAX_SECONDS:.0f} seconds")
                if found.seconds < MIN_SECONDS or found.lufs == float("-inf"):
                    raise AudioRejected("the file holds no sound (silence only)")
                if found.lufs < MIN_LUFS:
                    raise AudioRejected(
                        f"the recording is too quiet ({found.lufs:.0f} LUFS;"
                        f" at least {MIN_LUFS:.0f} is needed)"
                    )
                sound.to_telephony(source, target, found)
        except sound.ConversionError as exc:
            raise AudioRejected(exc.reason) from exc
        return round(sound.wav_info(target).seconds, 2)

    def install(
        self,
        flow: Flow,
        prompt_id: str,
        lang: str,
        slow: bool,
        converted: Path,
        source: str,
        duration: float,
        original_name: str | None = None,
        by: str = "",
        role: str = "",
        live: bool = False,
    ) -> PromptAudio:
        """Move a converted file into place under its content hash, as a candidate (or live) version.

        A candidate plays nowhere until it is published (`ivr.audio.publishing`): the caller's rules
        decide that. `live` makes it current at once: only for what needs no decision (tests, repairs).
        """
        digest = hashlib.sha256(converted.read_bytes()).hexdigest()[:16]
        name = f"{lang}/{prompt_id}{'-slow' if slow else ''}.{digest}{sound.EXTENSION}"
        text_hash = flow.catalogue.text_hash(prompt_id, lang)

        def change(entries: dict[str, Any]) -> None:
            entry = entries.setdefault(key_of(prompt_id, lang, slow), {"current": None, "versions": []})
            current = _current(entry)
            same = bool(current and current["file"] == name and current["text_hash"] == text_hash)
            if same and self.verifier.problem(name) is None:
                return  # the very same audio for the same text: nothing to do
            target = self.root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            fsync_path(converted)
            os.replace(converted, target)  # a missing or damaged file of that name is whole again
            rebuilt = [v for v in entry["versions"] if v["file"] == name and v.get("rebuilt")]
            for v in rebuilt:  # these very bytes were just made from today's text: that confirms them
                v.update(text_hash=text_hash, source=source, confirmed=now_iso())
                v.pop("rebuilt")
                entry["current"] = v["version"]
            if same or rebuilt:
                return
            number = max((v["version"] for v in entry["versions"]), default=0) + 1
            version = {
                "version": number,
                "file": name,
                "source": source,
                "text_hash": text_hash,
                "made_at": now_iso(),
                "duration": duration,
                "format": sound.FORMAT,
            }
            if original_name:
                version["original_name"] = original_name
            if by:
                version["by"] = by
            if role:
                version["role"] = role
            entry["versions"].append(version)
            if live:
                entry["current"] = number
                entry.pop("candidate", None)
            else:
                entry["candidate"] = number
            self._prune(entry)

        self.update(change)
        return self.prompt(flow, prompt_id, lang, slow)

    def rollback(self, flow: Flow, prompt_id: str, lang: str, slow: bool = False) -> PromptAudio:
        """Make the version before the current one the candidate, to publish; AudioError if there is none."""

        def change(entries: dict[str, Any]) -> None:
            entry = entries.get(key_of(prompt_id, lang, slow))
            current = _current(entry)
            if entry is None or current is None:
                raise AudioError(f"{key_of(prompt_id, lang, slow)} has no audio to roll back")
            earlier = [v for v in entry["versions"] if v["version"] < current["version"]]
            if not earlier:
                raise AudioError(f"{key_of(prompt_id, lang, slow)} has no earlier version")
            target = max(earlier, key=lambda v: v["version"])
            problem = self.problem(target["file"])
            if problem:
                raise AudioError(f"{key_of(prompt_id, lang, slow)} v{target['version']}: {problem}")
            entry["candidate"] = target["version"]

        self.update(change)
        return self.prompt(flow, prompt_id, lang, slow)

    def reinstate(self, flow: Flow, prompt_id: str, lang: str, slow: bool, source: str) -> bool:
        """Make the newest kept version of a source made from today's text the candidate; tell if done.

        It goes live as any candidate does: when it is published under the caller's rules (and, for a
        staff member's recording of a safety-critical prompt, with an admin's approval).
        """
        text_hash = flow.catalogue.text_hash(prompt_id, lang)
        done: list[bool] = []

        def change(entries: dict[str, Any]) -> None:
            entry = entries.get(key_of(prompt_id, lang, slow)) or {"versions": []}
            fits = [
                v
                for v in entry["versions"]
                if v["source"] == source and v["text_hash"] == text_hash and self.playable(v["file"])
            ]
            if fits:
                entry["candidate"] = max(v["version"] for v in fits)
                done.append(True)

        self.update(change)
        return bool(done)

    def confirm(
        self,
        flow: Flow,
        prompt_id: str,
        lang: str,
        slow: bool = False,
        version: int | None = None,
        source: str | None = None,
    ) -> PromptAudio:
        """Make a rebuilt version (the current one, or `version`) fresh and current, or raise AudioError.

        Staff listened to it and vouch that it says today's text.
        """
        key = key_of(prompt_id, lang, slow)
        if not flow.catalogue.has(prompt_id, lang):
            raise AudioError(f"there is no prompt {prompt_id!r} in {lang}")
        if source is not None and source not in SOURCES:
            raise AudioError(f"the source must be one of {', '.join(SOURCES)}")

        def change(entries: dict[str, Any]) -> None:
            entry = entries.get(key) or {"versions": []}
            number = version if version is not None else entry.get("current")
            chosen = next((v for v in entry["versions"] if v["version"] == number), None)
            if chosen is None:
                raise AudioError(f"{key} has no version {number}" if number else f"{key} has no audio")
            if not chosen.get("rebuilt"):
                raise AudioError(f"{key} v{number} was not rebuilt: it is fresh or stale by its own text")
            problem = self.problem(chosen["file"])
            if problem:
                raise AudioError(f"{key} v{number}: {problem}")
            chosen.pop("rebuilt")
            chosen.update(text_hash=flow.catalogue.text_hash(prompt_id, lang), confirmed=now_iso())
            if source is not None or chosen["source"] == UNKNOWN:
                chosen["source"] = source or "recording"
            entry["current"] = chosen["version"]

        self.update(change)
        return self.prompt(flow, prompt_id, lang, slow)
