"""The manifest as a file: read and checked, and rebuilt when it is lost.

A missing or unreadable `manifest.json` is never taken for an empty library. Its entries come back
from the previous manifest (`manifest.json.prev`, kept at every write, which knows each file's
source and text), and every whole library file that neither lists is adopted from its name (which
prompt, which rate, its content hash) and its WAV header (its length). What text such a file was
made from nobody can tell: it is marked `rebuilt`, with an unknown text hash and source, so it is
stale and never played until staff listen to it and confirm it (`ivr prompts confirm`)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import sound
from .verify import LIBRARY_NAME, inspect

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
PREVIOUS = MANIFEST + ".prev"
UNKNOWN = "unknown"  # the text hash and the source of a version rebuilt from its file alone
FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
FIELDS: dict[str, type | tuple[type, ...]] = {
    "version": int,
    "file": str,
    "source": str,
    "text_hash": str,
    "made_at": str,
    "duration": (int, float),
}


class UnreadableManifest(Exception):
    """A manifest file that is there but is not a manifest; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key_of(prompt_id: str, lang: str, slow: bool = False) -> str:
    """Return the manifest key of a prompt: normal and slow speech are kept apart."""
    return f"{lang}/{prompt_id}" + ("@slow" if slow else "")


def listed(entries: dict[str, Any]) -> set[str]:
    """Return every file the entries name."""
    return {v["file"] for entry in entries.values() for v in entry.get("versions", [])}


def read_manifest(path: Path) -> dict[str, Any]:
    """Return a manifest's entries; FileNotFoundError if there is none, UnreadableManifest if it is none.

    Other OSErrors pass through: the file is there, but this process may not read it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableManifest(f"it is not UTF-8 text ({exc.reason})") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UnreadableManifest(f"it is not JSON ({exc})") from exc
    prompts = data.get("prompts") if isinstance(data, dict) else None
    if not isinstance(prompts, dict):
        raise UnreadableManifest("it has no 'prompts' mapping")
    for key, entry in prompts.items():
        problem = _entry_problem(entry)
        if problem:
            raise UnreadableManifest(f"its entry {key!r} has {problem}")
    return prompts


def _entry_problem(entry: object) -> str | None:
    """Return what makes an entry unusable, or None."""
    if not isinstance(entry, dict) or not isinstance(entry.get("versions"), list):
        return "no list of versions"
    current = entry.get("current")
    if current is not None and (not isinstance(current, int) or isinstance(current, bool)):
        return "a current version that is not a number"
    for version in entry["versions"]:
        if not isinstance(version, dict):
            return "a version that is not a mapping"
        for field, kind in FIELDS.items():
            value = version.get(field)
            if not isinstance(value, kind) or isinstance(value, bool):
                return f"a version without a valid {field!r}"
        folder, _, name = version["file"].partition("/")
        if not (FOLDER.fullmatch(folder) and LIBRARY_NAME.fullmatch(name)):
            return f"a file name the library does not make ({version['file']!r})"
    return None


def rebuild(root: Path, lost: str, missing: bool) -> dict[str, Any]:
    """Return the entries of a lost manifest: the previous manifest's, and every whole file it lacks."""
    entries: dict[str, Any] = {}
    base = "no previous manifest"
    try:
        entries = read_manifest(root / PREVIOUS)
        base = f"the previous manifest ({PREVIOUS})"
    except FileNotFoundError:
        pass
    except UnreadableManifest as exc:
        base = f"no previous manifest ({PREVIOUS}: {exc.reason})"
    except OSError as exc:
        base = f"no previous manifest ({PREVIOUS}: {exc.strerror})"
    from_previous = len(entries)
    adopted, left = adopt(root, entries)
    if from_previous or adopted or left or not missing:
        log.warning(
            "the audio manifest %s %s: rebuilt from %s (%d prompt(s)) and %d file(s) it did not list; "
            "those files are kept as 'rebuilt' versions, stale and never played until staff confirm them "
            "(`ivr prompts history`, then `ivr prompts confirm`)%s",
            root / MANIFEST,
            lost,
            base,
            from_previous,
            adopted,
            f"; left alone, unplayable: {', '.join(left)}" if left else "",
        )
    return entries


def adopt(root: Path, entries: dict[str, Any]) -> tuple[int, list[str]]:
    """Add a `rebuilt` version for every whole file no entry lists; return how many, and those left out.

    A prompt new to the entries gets its newest file as current: stale, by its unknown text.
    """
    known = listed(entries)
    found: list[tuple[int, str]] = []
    left: list[str] = []
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        if not FOLDER.fullmatch(folder.name):
            continue
        for file in sorted(folder.glob("*" + sound.EXTENSION)):
            name = f"{folder.name}/{file.name}"
            if name in known or not LIBRARY_NAME.fullmatch(file.name):
                continue
            problem = inspect(root, name)
            if problem:
                left.append(f"{name} ({problem})")
                continue
            found.append((file.stat().st_mtime_ns, name))
    new: set[str] = set()
    for mtime, name in sorted(found):
        lang, _, base = name.partition("/")
        match = LIBRARY_NAME.fullmatch(base)
        if match is None:  # pragma: no cover - only library names were found
            continue
        key = key_of(match["prompt"], lang, bool(match["slow"]))
        if key not in entries:
            entries[key] = {"current": None, "versions": []}
            new.add(key)
        entry = entries[key]
        number = max((v["version"] for v in entry["versions"]), default=0) + 1
        info = sound.wav_info(root / name)
        telephony = (info.format_tag, info.rate, info.channels) == (sound.WAV_MULAW, sound.RATE, 1)
        entry["versions"].append(
            {
                "version": number,
                "file": name,
                "source": UNKNOWN,
                "text_hash": UNKNOWN,
                "made_at": datetime.fromtimestamp(mtime / 1e9, UTC).replace(microsecond=0).isoformat(),
                "duration": round(info.seconds, 2),
                "format": sound.FORMAT if telephony else "wav",
                "rebuilt": datetime.now(UTC).replace(microsecond=0).isoformat(),
            }
        )
        if key in new:
            entry["current"] = number
    return len(found), left
