"""The audio folder on disk: the manifest, read and written atomically under a lock shared by every
process, scratch folders on the same disk, and which of the files it makes current can be played.

Nothing it cannot account for is ever deleted. A missing or unreadable manifest is rebuilt
(`recover`); the manifest each write replaces is kept as `manifest.json.prev` (an unreadable one as
`manifest.json.broken`); a change that would drop from the manifest more than it means to is
refused; a library file that no manifest lists is set aside in `.unlisted/`. Only history pruned
beyond HISTORY_KEEP is deleted."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import sound, verify
from .recover import MANIFEST, PREVIOUS, UnreadableManifest, key_of, listed, read_manifest, rebuild
from .verify import LIBRARY_NAME, Verifier

log = logging.getLogger(__name__)

__all__ = ["HISTORY_KEEP", "MANIFEST", "PREVIOUS", "AudioError", "AudioStore", "current_version", "key_of"]

BROKEN = MANIFEST + ".broken"
WORK = ".work"
UNLISTED = ".unlisted"
HISTORY_KEEP = 10  # versions kept per prompt; older files are deleted
Change = Callable[[dict[str, Any]], None]


class AudioError(Exception):
    """A library operation that could not be done; `reason` says why, and nothing changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AudioStore:
    """The manifest's entries, kept in memory and in step with the file (see `check`), and the
    current files that cannot be played (missing or damaged: `generation` moves when that changes)."""

    def __init__(self, root: Path, check_seconds: float = 1.0) -> None:
        self.root = root
        self.check_seconds = check_seconds
        self.verifier = Verifier(root)
        self._entries: dict[str, Any] = {}
        self._unplayable: dict[str, str] = {}  # current files found unplayable, and why
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._pruned: set[str] = set()  # files the change being applied pruned on purpose
        self._lock = threading.Lock()
        self.generation = 0  # counts changes seen, so that what was built from the audio can follow
        self._load()

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def update(self, change: Change) -> None:
        """Apply a change to the manifest under a lock across processes, and write it atomically.

        Refused (AudioError, nothing written) if it would drop from the manifest a prompt, or a file
        it did not prune on purpose."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries, whole = self._read()
                before, keys, body = listed(entries), set(entries), _dump(entries)
                kept = before | self._previous_files()
                self._pruned = set()
                change(entries)
                pruned, self._pruned = self._pruned, set()
                _refuse_drops(keys, before, entries, pruned)
                if not whole or _dump(entries) != body:
                    self._write(entries, whole)
                self._entries = entries
                self._stamp = self._disk_stamp()
                self._verify_current()
                self.generation += 1
                self._tidy(entries, kept - pruned, pruned)
                for stale in self.root.glob(".manifest-*.tmp"):  # a writer killed mid-write
                    with contextlib.suppress(OSError):
                        stale.unlink()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def workdir(self) -> Iterator[Path]:
        """Yield a private scratch folder inside audio/ (same disk, so a rename is atomic).

        Named by the process that owns it, so that the next run can tell what a killed one left.
        """
        base = self.root / WORK
        base.mkdir(parents=True, exist_ok=True)
        self.clean_work()
        path = Path(tempfile.mkdtemp(dir=base, prefix=f"{os.getpid()}-"))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def clean_work(self, older_than: float = 24 * 3600.0) -> None:
        """Remove scratch folders whose process has ended (killed mid-import), or that are a day old."""
        base = self.root / WORK
        if not base.is_dir():
            return
        for child in base.iterdir():
            with contextlib.suppress(OSError):
                owner = child.name.split("-", 1)[0]
                ended = owner.isdigit() and not _alive(int(owner))
                if ended or time.time() - child.stat().st_mtime > older_than:
                    shutil.rmtree(child, ignore_errors=True)

    # -- what can be played ----------------------------------------------------------------------

    def check(self) -> None:
        """Reload the manifest if another process changed it, else re-verify the current files (a stat each).

        At most once every `check_seconds`: a file deleted or replaced by hand is noticed within a second.
        """
        now = time.monotonic()
        if now - self._checked < self.check_seconds or not self._lock.acquire(blocking=False):
            return
        try:
            self._checked = now
            if self._disk_stamp() != self._stamp:
                self._load()
            elif self._verify_current():
                self.generation += 1
        finally:
            self._lock.release()

    def playable(self, name: str) -> bool:
        """Tell whether a file under audio/ can be played; a stat, unless it changed since verified."""
        problem = self.verifier.problem(name)
        self._note(name, problem)
        return problem is None

    def problem(self, name: str) -> str | None:
        """Return why a file under audio/ cannot be played, or None when it can."""
        return None if self.playable(name) else self.verifier.problem(name)

    def read_playable(self, name: str) -> bytes | None:
        """Return a file's bytes if playable and matching the hash in its name, else None (and mark it).

        Marked unplayable, its prompt is no longer named by the live TwiML (`generation` moves).
        """
        if not self.playable(name):
            return None
        try:
            data = (self.root / name).read_bytes()
        except OSError:
            data = b""
        if verify.whole(name, data):
            return data
        reason = verify.DAMAGED if (self.root / name).exists() else verify.MISSING
        self.verifier.condemn(name, reason)
        self._note(name, reason)
        return None

    def _note(self, name: str, problem: str | None) -> None:
        """Follow a file's verdict: when it turns, what was built from the audio must be built again."""
        if self._unplayable.get(name) == problem:
            return
        if problem is None:
            self._unplayable.pop(name, None)
            log.warning("audio/%s can be played again", name)
        else:
            self._unplayable[name] = problem
            log.error("audio/%s cannot be played (%s): it is not played until it is replaced", name, problem)
        self.generation += 1

    def _verify_current(self) -> bool:
        """Verify every current file (a stat each, unless it changed); tell if the unplayable changed."""
        names = {v["file"] for e in self._entries.values() if (v := current_version(e)) is not None}
        self.verifier.keep_only(listed(self._entries))
        found: dict[str, str] = {}
        for name in sorted(names):
            problem = self.verifier.problem(name)
            if problem is not None:
                found[name] = problem
                if self._unplayable.get(name) != problem:
                    log.error("audio/%s cannot be played (%s): not played until replaced", name, problem)
        changed = found != {n: p for n, p in self._unplayable.items() if n in names}
        self._unplayable = found
        return changed

    # -- the manifest file -----------------------------------------------------------------------

    def _disk_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.manifest_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        stamp = self._disk_stamp()
        try:
            entries, _ = self._read()
        except AudioError as exc:
            log.error("%s; prompts are spoken with <Say> until it is fixed", exc.reason)
            entries = {}
        self._stamp = stamp
        self._entries = entries
        self._verify_current()
        self.generation += 1

    def _read(self) -> tuple[dict[str, Any], bool]:
        """Return the manifest's entries, and whether the manifest gave them (else they were rebuilt)."""
        try:
            return read_manifest(self.manifest_path), True
        except FileNotFoundError:
            return rebuild(self.root, "is missing", missing=True), False
        except UnreadableManifest as exc:
            return rebuild(self.root, f"cannot be read: {exc.reason}", missing=False), False
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise AudioError(f"the audio manifest {self.manifest_path} cannot be read: {reason}") from exc

    def _previous_files(self) -> set[str]:
        """Return the files the previous manifest lists (none if it is missing or unreadable)."""
        try:
            return listed(read_manifest(self.root / PREVIOUS))
        except (OSError, UnreadableManifest):
            return set()

    def _write(self, entries: dict[str, Any], whole: bool) -> None:
        """Write the manifest; keep the one it replaces as .prev (an unreadable one as .broken)."""
        with contextlib.suppress(FileNotFoundError):
            self._replace(self.root / (PREVIOUS if whole else BROKEN), self.manifest_path.read_bytes())
        self._replace(self.manifest_path, (_dump(entries) + "\n").encode("utf-8"))

    def _replace(self, path: Path, body: bytes) -> None:
        """Write a file in the audio folder atomically: a scratch file, flushed, renamed into place."""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest-", suffix=".tmp")
        try:
            os.chmod(tmp, 0o644)
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        fsync_path(self.root)

    def _prune(self, entry: dict[str, Any]) -> None:
        """Keep the newest HISTORY_KEEP versions, the current one and the candidate; the others' files go."""
        versions = sorted(entry["versions"], key=lambda v: v["version"])
        keep = versions[-HISTORY_KEEP:]
        for needed in (entry.get("current"), entry.get("candidate")):
            if needed is not None and needed not in {v["version"] for v in keep}:
                keep = [v for v in versions if v["version"] == needed] + keep[1:]
        entry["versions"] = keep
        self._pruned |= {v["file"] for v in versions} - {v["file"] for v in keep}

    def _tidy(self, entries: dict[str, Any], kept: set[str], pruned: set[str]) -> None:
        """Delete the files pruned on purpose; set aside any other file no manifest lists, now or before.

        Such a file was left by a run that died before listing it, or dropped by a hand edit: it goes to
        .unlisted/, never away.
        """
        now = listed(entries)
        for name in sorted(pruned - now):
            with contextlib.suppress(OSError):
                (self.root / name).unlink()
        for folder in self.root.iterdir():
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            for file in folder.glob("*" + sound.EXTENSION):
                name = f"{folder.name}/{file.name}"
                # Only names the library makes: a file someone put here by hand is left alone.
                if LIBRARY_NAME.fullmatch(file.name) and name not in now | kept | pruned:
                    self._set_aside(name)

    def _set_aside(self, name: str) -> None:
        target = self.root / UNLISTED / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.root / name, target)
        except OSError:
            return
        log.warning("audio/%s is listed by no manifest: set aside as %s", name, target)


def _dump(entries: dict[str, Any]) -> str:
    return json.dumps({"format": 1, "prompts": entries}, indent=1, sort_keys=True)


def _refuse_drops(keys: set[str], before: set[str], entries: dict[str, Any], pruned: set[str]) -> None:
    """Refuse a change that drops a prompt, or a file it did not prune on purpose."""
    gone = sorted(keys - set(entries)) + sorted(before - listed(entries) - pruned)
    if gone:
        raise AudioError(
            f"refused: the change would drop {len(gone)} prompt(s) or file(s) from the audio manifest "
            f"that it did not mean to (first: {gone[0]}); nothing was changed"
        )


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


def _alive(pid: int) -> bool:
    """Tell whether a process is running on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
