"""What the library says of a prompt's audio: its state now, and each version it has had."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class PromptAudio:
    """One prompt in one language at one speech rate, and the audio the library holds for it."""

    prompt_id: str
    lang: str
    slow: bool
    state: str  # fresh | stale | missing (also when the current file is missing or damaged: `problem`)
    source: str | None  # recording | tts | None
    duration: float | None
    made_at: str | None
    url: str | None  # path under /audio/ of the current file, even when stale (to hear it)
    text: str
    text_hash: str
    original_name: str | None = None
    problem: str | None = None  # why the current file cannot be played, if it cannot
    rebuilt: bool = False  # rebuilt from its file after the manifest was lost: stale until confirmed
    candidate: int | None = None  # a version made but not live: it plays once published


@dataclass(frozen=True)
class AudioVersion:
    """One file a prompt has had, newest first in `history`."""

    version: int
    source: str
    made_at: str
    text_hash: str
    duration: float
    current: bool
    fresh: bool
    url: str
    original_name: str | None = None
    rebuilt: bool = False
    candidate: bool = False  # made, not yet live: waits to be published
    by: str = ""  # who made it
    published: str = ""  # who made it live, and when (and who approved it, for a staff change)


def now_iso() -> str:
    """Return the time now, UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
