"""Whether a library file can be played: it is there, holds more than a header, is a WAV, and holds
the very bytes whose hash its name carries. Verdicts are kept by (size, mtime_ns), so asking again
about a file that did not change costs one stat."""

from __future__ import annotations

import hashlib
import os
import re
import struct
from pathlib import Path

from . import sound

# The names the library gives its files: `<prompt_id>[-slow].<sha256 of the content, 16 hex>.wav`.
LIBRARY_NAME = re.compile(r"(?P<prompt>[a-z][a-z0-9_]*)(?P<slow>-slow)?\.(?P<digest>[0-9a-f]{16})\.wav")
HEADER_BYTES = 44  # a WAV header alone: a file no longer than this holds no sound
MISSING = "the file is missing"
DAMAGED = "the file is damaged: its content does not match the hash in its name"

Stamp = tuple[int, int]


def digest(data: bytes) -> str:
    """Return the content hash a library file name carries: 16 hex digits of sha256."""
    return hashlib.sha256(data).hexdigest()[:16]


def named_digest(name: str) -> str:
    """Return the content hash in a library path's file name, or '' if it is not a library name."""
    found = LIBRARY_NAME.fullmatch(name.rsplit("/", 1)[-1])
    return found.group("digest") if found else ""


def whole(name: str, data: bytes) -> bool:
    """Tell whether bytes are exactly what a library file's name promises."""
    return len(data) > HEADER_BYTES and digest(data) == named_digest(name)


def inspect(root: Path, name: str) -> str | None:
    """Return why a library file cannot be played, or None when it can (reads the whole file)."""
    path = root / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return MISSING
    except OSError as exc:
        return f"the file cannot be read ({exc.strerror})"
    if len(data) <= HEADER_BYTES:
        return f"the file is too short to hold sound ({len(data)} bytes)"
    if not whole(name, data):
        return DAMAGED
    try:
        info = sound.wav_info(path)
    except (sound.ConversionError, OSError, struct.error) as exc:
        return f"the file is not a playable WAV file ({exc})"
    if info.data_bytes <= 0 or not info.rate or not info.channels:
        return "the WAV file holds no sound"
    return None


class Verifier:
    """Remember each file's verdict with the stat it was made for; judge again only when it changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._verdicts: dict[str, tuple[Stamp | None, str | None]] = {}

    def problem(self, name: str) -> str | None:
        """Return why a file cannot be played (None: it can): a stat, unless it changed since last asked."""
        stamp = self._stamp(name)
        known = self._verdicts.get(name)
        if known is not None and known[0] == stamp:
            return known[1]
        found = MISSING if stamp is None else inspect(self.root, name)
        self._verdicts[name] = (stamp, found)
        return found

    def condemn(self, name: str, reason: str) -> None:
        """Record that a file was found unplayable (by reading it) while its stat stays as it is."""
        self._verdicts[name] = (self._stamp(name), reason)

    def keep_only(self, names: set[str]) -> None:
        """Forget the verdicts of files no longer listed."""
        for name in [n for n in self._verdicts if n not in names]:
            self._verdicts.pop(name, None)

    def _stamp(self, name: str) -> Stamp | None:
        try:
            st = os.stat(self.root / name)
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)
