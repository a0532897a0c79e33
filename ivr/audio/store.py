"""The audio folder on disk: the manifest, read and written atomically under a lock shared by
every process, scratch folders on the same disk, and cleaning up what nobody lists."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import sound

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
WORK = ".work"
HISTORY_KEEP = 10  # versions kept per prompt; older files are deleted
LIBRARY_NAME = re.compile(r"[a-z][a-z0-9_]*(-slow)?\.[0-9a-f]{16}\.wav")
Change = Callable[[dict[str, Any]], None]


class AudioError(Exception):
    """A library operation that could not be done; `reason` says why, and nothing changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AudioStore:
    """The manifest's entries, kept in memory and in step with the file (see `check`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._entries: dict[str, Any] = {}
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self.generation = 0  # counts changes seen, so that what was built from the audio can follow
        self._load()

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def update(self, change: Change) -> None:
        """Apply a change to the manifest under a lock across processes, and write it atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = self._read()
                change(entries)
                self._write(entries)
                self._entries = entries
                self._stamp = self._disk_stamp()
                self.generation += 1
                self._remove_unlisted(entries)
                for stale in self.root.glob(".manifest-*.tmp"):  # a writer killed mid-write
                    with contextlib.suppress(OSError):
                        stale.unlink()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def workdir(self) -> Iterator[Path]:
        """Yield a private scratch folder inside audio/ (same disk, so a rename is atomic)."""
        base = self.root / WORK
        base.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(dir=base))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def clean_work(self, older_than: float = 3600.0) -> None:
        """Remove scratch folders an interrupted run left behind."""
        base = self.root / WORK
        if not base.is_dir():
            return
        for child in base.iterdir():
            with contextlib.suppress(OSError):
                if time.time() - child.stat().st_mtime > older_than:
                    shutil.rmtree(child, ignore_errors=True)

    def _disk_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.manifest_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        self.generation += 1
        self._stamp = self._disk_stamp()
        try:
            self._entries = self._read()
        except AudioError as exc:
            log.error("%s; prompts are spoken with <Say> until it is fixed", exc.reason)
            self._entries = {}

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise AudioError(f"the audio manifest {self.manifest_path} cannot be read: {exc}") from exc
        prompts = data.get("prompts") if isinstance(data, dict) else None
        if not isinstance(prompts, dict):
            raise AudioError(f"the audio manifest {self.manifest_path} has no 'prompts' mapping")
        return prompts

    def _write(self, entries: dict[str, Any]) -> None:
        body = json.dumps({"format": 1, "prompts": entries}, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest-", suffix=".tmp")
        try:
            os.chmod(tmp, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.manifest_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        fsync_path(self.root)

    def _prune(self, entry: dict[str, Any]) -> None:
        versions = sorted(entry["versions"], key=lambda v: v["version"])
        keep = versions[-HISTORY_KEEP:]
        if entry["current"] not in {v["version"] for v in keep}:
            keep = [v for v in versions if v["version"] == entry["current"]] + keep[1:]
        entry["versions"] = keep

    def _remove_unlisted(self, entries: dict[str, Any]) -> None:
        """Delete audio files no version names (pruned, or left by a run that died before listing)."""
        listed = {v["file"] for e in entries.values() for v in e.get("versions", [])}
        for folder in self.root.iterdir():
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            for file in folder.glob("*" + sound.EXTENSION):
                # Only names the library makes: a file someone put here by hand is left alone.
                if LIBRARY_NAME.fullmatch(file.name) and f"{folder.name}/{file.name}" not in listed:
                    with contextlib.suppress(OSError):
                        file.unlink()


def current_version(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if not entry or entry.get("current") is None:
        return None
    return next((v for v in entry.get("versions", []) if v["version"] == entry["current"]), None)


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
