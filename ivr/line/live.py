"""The flow that is serving now: reloaded when its files or its audio change, the last good one kept."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..audio.library import AudioLibrary
from ..checks import load, load_valid
from ..flow import Flow, Problem
from .twiml import Renderer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Live:
    """A valid flow and its renderer, swapped together; `audio` is the audio generation it was built on."""

    flow: Flow
    renderer: Renderer
    safe: dict[str, str]
    audio: int = -1


class LiveFlow:
    """Serve the last valid flow; pick up edits to prompts/ and to the audio without a restart."""

    def __init__(self, prompts_dir: Path, audio: AudioLibrary, reload_seconds: float = 1.0) -> None:
        self.prompts_dir = prompts_dir
        self.reload_seconds = reload_seconds
        self.audio = audio
        self.problems: list[Problem] = []
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp = self._files_stamp()
        self._live = self._build(load_valid(prompts_dir))

    def current(self) -> Live:
        """Return what serves now; first, at most once a second, look for changed files and audio."""
        now = time.monotonic()
        if now - self._checked >= self.reload_seconds and self._lock.acquire(blocking=False):
            try:
                self._checked = now
                self.audio.check()
                stamp = self._files_stamp()
                if stamp != self._stamp:
                    self._stamp = stamp
                    self._reload()
            finally:
                self._lock.release()
        if self._live.audio != self.audio.generation and self._lock.acquire(blocking=False):
            # The audio changed (here, or in another process and seen by `check`): new URLs, and
            # perhaps other languages offered.
            try:
                if self._live.audio != self.audio.generation:
                    self._live = self._build(self._live.flow)
            finally:
                self._lock.release()
        return self._live

    def reload(self) -> list[Problem]:
        """Load the files again now; keep serving the last good flow if they are broken."""
        with self._lock:
            self._stamp = self._files_stamp()
            return self._reload()

    def refresh(self) -> None:
        """Rebuild TwiML for the same flow now (after this process changed the audio)."""
        with self._lock:
            self._live = self._build(self._live.flow)

    def _reload(self) -> list[Problem]:
        flow, problems = load(self.prompts_dir)
        self.problems = problems
        if problems or flow is None:
            log.error(
                "flow in %s refused, still serving version %s:\n%s",
                self.prompts_dir,
                self._live.flow.version,
                "\n".join(str(p) for p in problems),
            )
            return problems
        self._live = self._build(flow)
        log.info("flow version %s is live", flow.version)
        return []

    def _build(self, flow: Flow) -> Live:
        generation = self.audio.generation
        renderer = Renderer(flow, audio=self.audio.urls(flow), present=self.audio.present(flow))
        # The safe answer is spoken with <Say>: it must work when nothing else does, audio included.
        # A language offered only with audio falls back to the default language's safe answer.
        spoken = Renderer(flow)
        safe = {lang: spoken.safe(lang) for lang in renderer.offered if lang in spoken.offered}
        return Live(flow, renderer, safe, generation)

    def _files_stamp(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = sorted(self.prompts_dir.glob("*.yaml"))
            return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        except OSError:
            return ()
