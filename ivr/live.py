"""The flow that is serving now: reloaded when its files change, the last good one kept."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import flow as flowmod
from .flow import Flow, Problem
from .twiml import AudioLookup, Renderer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Live:
    """A valid flow and its renderer, swapped together."""

    flow: Flow
    renderer: Renderer
    safe: dict[str, str]


class LiveFlow:
    """Serve the last valid flow; pick up edits to prompts/ without a restart."""

    def __init__(
        self, prompts_dir: Path, reload_seconds: float = 1.0, audio: AudioLookup | None = None
    ) -> None:
        self.prompts_dir = prompts_dir
        self.reload_seconds = reload_seconds
        self.audio = audio
        self.problems: list[Problem] = []
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp = self._files_stamp()
        self._live = self._build(flowmod.load_valid(prompts_dir))

    def current(self) -> Live:
        """Return what serves now, reloading first if the files changed (checked once a second)."""
        now = time.monotonic()
        if now - self._checked >= self.reload_seconds and self._lock.acquire(blocking=False):
            try:
                self._checked = now
                stamp = self._files_stamp()
                if stamp != self._stamp:
                    self._stamp = stamp
                    self.reload()
            finally:
                self._lock.release()
        return self._live

    def reload(self) -> list[Problem]:
        """Load the files again; keep serving the last good flow if they are broken."""
        flow, problems = flowmod.load(self.prompts_dir)
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

    def refresh(self) -> None:
        """Rebuild TwiML for the same flow (after audio changed)."""
        with self._lock:
            self._live = self._build(self._live.flow)

    def presence(self, flow: Flow | None = None) -> AudioLookup | None:
        """Return the lookup that decides which languages are offered: fresh audio, whatever the request."""
        flow = flow if flow is not None else self._live.flow
        present = getattr(self.audio, "present", None)
        return present(flow) if present is not None else self.audio

    def _build(self, flow: Flow) -> Live:
        renderer = Renderer(flow, audio=self.audio, present=self.presence(flow))
        # The safe answer is spoken with <Say>: it must work when nothing else does, audio included.
        # A language offered only with audio falls back to the default language's safe answer.
        spoken = Renderer(flow)
        safe = {lang: spoken.safe(lang) for lang in renderer.offered if lang in spoken.offered}
        return Live(flow, renderer, safe)

    def _files_stamp(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = sorted(self.prompts_dir.glob("*.yaml"))
            return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        except OSError:
            return ()
