"""The flow that is serving now: reloaded when its files or its audio change, the last good one kept.

It always has a flow to serve: the files in prompts/ when they pass the rules; else the last
version that did, kept in the instance folder; else the last-resort flow (`snapshot`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import metrics
from ..audio.library import AudioLibrary
from ..checks import Verdict, load, verdict
from ..flow import Flow, FlowError, Problem
from ..flow.queries import heard_prompts
from . import snapshot
from .twiml import Renderer

log = logging.getLogger(__name__)

SOURCE_FILES = "prompts"
SOURCE_SNAPSHOT = "last good flow"
SOURCE_LAST_RESORT = "last-resort flow"


@dataclass(frozen=True)
class Live:
    """A valid flow and its renderer, swapped together; `audio` is the audio generation it was built on."""

    flow: Flow
    renderer: Renderer
    safe: dict[str, str]
    audio: int = -1


class LiveFlow:
    """Serve the last valid flow; pick up edits to prompts/ and to the audio without a restart."""

    def __init__(
        self,
        prompts_dir: Path,
        audio: AudioLibrary,
        reload_seconds: float = 1.0,
        instance: Path | None = None,
    ) -> None:
        self.prompts_dir = prompts_dir
        self.reload_seconds = reload_seconds
        self.audio = audio
        self.instance = instance
        self.problems: list[Problem] = []  # what is wrong with the files on disk, if they are refused
        self.source = SOURCE_FILES  # where the flow serving now came from
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp = self._files_stamp()
        flow, problems = load(prompts_dir)
        if flow is not None and not problems:
            self._live = self._build(flow)
            self._keep(flow)
        else:
            self.problems = problems or [Problem(str(prompts_dir), None, None, "no flow")]
            metrics.FLOW_ON_DISK_REFUSED.set(1)
            self._live = self._build(self._fallback())

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

    def verdict(self, flow: Flow | None = None, problems: list[Problem] | None = None) -> Verdict:
        """Judge a flow (the serving one by default) with the audio it would play: what `ivr check` says."""
        flow = flow if flow is not None else self.current().flow
        return verdict(flow, self.audio.present(flow), self.audio.durations(flow), problems)

    @property
    def degraded(self) -> bool:
        """Tell whether the line serves anything but the files on disk (they are refused)."""
        return bool(self.problems) or self.source != SOURCE_FILES

    def _reload(self) -> list[Problem]:
        flow, problems = load(self.prompts_dir)
        if problems or flow is None:
            self.problems = problems or [Problem(str(self.prompts_dir), None, None, "no flow")]
            metrics.FLOW_REFUSED.inc()
            metrics.FLOW_ON_DISK_REFUSED.set(1)
            log.error(
                "flow in %s refused, still serving version %s (%s):\n%s",
                self.prompts_dir,
                self._live.flow.version,
                self.source,
                "\n".join(str(p) for p in self.problems),
            )
            return self.problems
        self.problems = []
        self.source = SOURCE_FILES
        metrics.FLOW_ON_DISK_REFUSED.set(0)
        self._live = self._build(flow)
        log.info("flow version %s is live", flow.version)
        self._keep(flow)
        return []

    def _keep(self, flow: Flow) -> None:
        """Keep a copy of a flow that went live: a restart serves it if the files are refused then."""
        if self.instance is not None:
            snapshot.save(self.instance, flow)

    def _fallback(self) -> Flow:
        """Return what to serve while the files are refused: the last good flow, else the last resort."""
        reasons = "\n".join(str(p) for p in self.problems)
        kept = snapshot.last_good(self.instance) if self.instance is not None else None
        if kept is not None:
            flow, problems = load(kept)
            if flow is not None and not problems:
                self.source = SOURCE_SNAPSHOT
                log.error(
                    "flow in %s refused; serving the last good version %s kept in %s:\n%s",
                    self.prompts_dir, flow.version, kept, reasons,
                )  # fmt: skip
                return flow
        flow, problems = load(snapshot.LAST_RESORT)
        if flow is None or problems:  # shipped with the package and tested: never expected
            raise FlowError(self.problems + problems)
        self.source = SOURCE_LAST_RESORT
        log.error(
            "flow in %s refused and no earlier version kept; serving the last-resort flow "
            "(999 advice, Silent Solution, Refuge):\n%s",
            self.prompts_dir, reasons,
        )  # fmt: skip
        return flow

    def _build(self, flow: Flow) -> Live:
        generation = self.audio.generation
        renderer = Renderer(flow, audio=self.audio.urls(flow), present=self.audio.present(flow))
        # The safe answer is spoken with <Say>: it must work when nothing else does, audio included.
        # A language offered only with audio falls back to the default language's safe answer.
        spoken = Renderer(flow)
        safe = {lang: spoken.safe(lang) for lang in renderer.offered if lang in spoken.offered}
        self._measure(flow, renderer)
        return Live(flow, renderer, safe, generation)

    def _measure(self, flow: Flow, renderer: Renderer) -> None:
        """Tell monitoring which version serves, and how many prompts lack audio where others have it."""
        previous = getattr(self, "_live", None)
        if previous is not None and previous.flow.version != flow.version:
            metrics.FLOW_LIVE.labels(previous.flow.version, self.source).set(0)
        metrics.FLOW_LIVE.labels(flow.version, self.source).set(1)
        present = self.audio.present(flow)
        heard = heard_prompts(flow)
        for lang in renderer.offered:
            playable = [pid for pid in heard if flow.catalogue.has(pid, lang) and present(pid, lang, False)]
            metrics.SAY_FALLBACKS.labels(lang).set(len(heard) - len(playable) if playable else 0)

    def _files_stamp(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = sorted(self.prompts_dir.glob("*.yaml"))
            return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        except OSError:
            return ()
