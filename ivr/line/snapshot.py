"""The last good flow: a copy of every flow that went live, kept in the instance folder.

A worker that starts while the files in prompts/ are refused serves the newest copy instead of
refusing to boot; with no copy at all it serves the last-resort flow shipped with the package
(`last_resort/`: the 999 advice, the Silent Solution and one key to Refuge).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..flow import FLOW_FILE, Flow, parse

log = logging.getLogger(__name__)

FOLDER = "flows"  # instance/flows/<version>/: the files of each version that went live
CURRENT = "last-good-flow"  # instance/last-good-flow -> flows/<version>, swapped atomically
KEEP = 5
COPY_PREFIX = ".copy-"  # flows/.copy-<pid>-<random>: a version being copied by the worker <pid>
STALE_COPY_SECONDS = 3600  # a copy takes milliseconds: one this old was abandoned, whatever its pid
LAST_RESORT = Path(__file__).resolve().parent / "last_resort"


def save(instance: Path, flow: Flow) -> Path | None:
    """Keep the files of a flow that went live, and make them the last good flow; None if it cannot."""
    source = flow.path.parent
    base = instance / FOLDER
    target = base / flow.version
    try:
        base.mkdir(parents=True, exist_ok=True)
        if not target.is_dir() and not _copy(source, base, flow.version):
            return None
        link = instance / CURRENT
        if link.is_symlink() and os.readlink(link) == f"{FOLDER}/{flow.version}":
            return target
        temporary = instance / f".{CURRENT}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        os.symlink(f"{FOLDER}/{flow.version}", temporary)
        os.replace(temporary, link)
        _prune(base, keep={flow.version})
    except OSError as exc:
        log.warning("the last good flow could not be kept in %s: %s", instance, exc)
        return None
    return target


def _copy(source: Path, base: Path, version: str) -> bool:
    """Copy a prompts folder's YAML files into flows/<version>, whole or not at all."""
    work = Path(tempfile.mkdtemp(dir=base, prefix=f"{COPY_PREFIX}{os.getpid()}-"))
    try:
        for file in sorted(source.glob("*.yaml")):
            shutil.copyfile(file, work / file.name)
        copied, _ = parse(work)
        if copied is None or copied.version != version:
            # The files changed after they were checked: the next version to go live is kept instead.
            log.info("prompts changed while being kept; the last good flow stays as it was")
            return False
        _fsync_folder(work)
        with contextlib.suppress(OSError):  # another worker kept the same version first
            os.rename(work, base / version)
        return (base / version / FLOW_FILE).is_file()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _prune(base: Path, keep: set[str]) -> None:
    """Delete all but the newest KEEP versions, and the copies that workers which died left behind.

    Other workers keep versions and prune at the same time: a folder that goes away meanwhile is
    no fault, and a copy still being made by a live worker is left alone.
    """
    dated = [
        (when, p) for p in base.iterdir() if not p.name.startswith(".") and (when := _mtime(p)) is not None
    ]
    for _, old in sorted(dated, reverse=True)[KEEP:]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in base.glob(f"{COPY_PREFIX}*"):
        if _abandoned(leftover):
            shutil.rmtree(leftover, ignore_errors=True)


def _mtime(path: Path) -> float | None:
    """Return when a version folder last changed; None if it is not one (or no longer exists)."""
    try:
        return path.stat().st_mtime if path.is_dir() else None
    except OSError:
        return None


def _abandoned(copy: Path) -> bool:
    """Tell whether a copy's worker is gone: its pid (in the name) has ended, or it is an hour old."""
    when = _mtime(copy)
    if when is None:
        return False  # finished or removed meanwhile
    pid = copy.name.removeprefix(COPY_PREFIX).partition("-")[0]
    if not pid.isdigit() or time.time() - when > STALE_COPY_SECONDS:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's (not ours to judge)
    return False


def _fsync_folder(folder: Path) -> None:
    for file in folder.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def last_good(instance: Path) -> Path | None:
    """Return the folder of the last good flow kept on this installation, if there is one."""
    link = instance / CURRENT
    return link if (link / FLOW_FILE).is_file() else None
