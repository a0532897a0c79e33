"""The flow that is serving now: reloaded when its files or its audio change, the last good one kept.

It always has a flow to serve: the files in prompts/ when they pass the rules; else the last
version that did, kept in the instance folder; else the last-resort flow (`snapshot`).

Answering a call only reads what serves (`LiveFlow.current`). A watcher thread in each process
looks for edited files and changed audio every `reload_seconds`, has an edited flow judged away
from the calls (`loading`), and swaps in what serves next as one immutable `Live`, in one step.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

from .. import metrics
from ..audio.library import AudioLibrary
from ..checks import Verdict, verdict
from ..flow import Flow, FlowError, Problem
from ..flow.queries import heard_prompts
from ..pauses import beside_calls
from . import snapshot
from .loading import LARGE_NODES, judge, load_apart
from .twiml import Renderer

log = logging.getLogger(__name__)

SOURCE_FILES = "prompts"
SOURCE_SNAPSHOT = "last good flow"
SOURCE_LAST_RESORT = "last-resort flow"
MIN_PERIOD = 0.05  # the watcher's shortest wait between two looks, in seconds (reload_seconds 0)

# Held while a watcher works with the audio library, and taken before a fork: a forked process
# never inherits one of the library's locks held by a watcher thread it does not have.
_fork_guard = threading.Lock()
_starting = threading.Lock()  # one watcher started per flow and process


def _before_fork() -> None:
    _fork_guard.acquire()


def _after_fork_in_parent() -> None:
    _fork_guard.release()


def _after_fork_in_child() -> None:
    global _fork_guard, _starting
    _fork_guard = threading.Lock()
    _starting = threading.Lock()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)


@dataclass(frozen=True)
class Live:
    """What serves, swapped as one: a valid flow, its renderer and safe answers, where the flow came
    from, why the files on disk are refused (if they are), and the audio generation it was built on."""

    flow: Flow
    renderer: Renderer
    safe: dict[str, str]
    audio: int = -1
    source: str = SOURCE_FILES
    problems: tuple[Problem, ...] = ()

    @property
    def degraded(self) -> bool:
        """Tell whether this serves anything but the files on disk (they are refused)."""
        return bool(self.problems) or self.source != SOURCE_FILES


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
        self._lock = threading.Lock()  # one change at a time to what serves: the watcher's, or a caller's
        self._watching = 0  # the process whose watcher thread runs (none yet)
        self._looked = threading.Condition()  # told each time the watcher has looked
        self._looks = 0
        self._wake = threading.Event()  # set: look now, without waiting out the period
        self._stamp = self._files_stamp()  # the files as they were when last judged
        judged = load_apart(prompts_dir, instance)
        if judged.flow is not None:
            self._live = self._build(judged.flow, SOURCE_FILES)
        else:
            metrics.FLOW_ON_DISK_REFUSED.set(1)
            flow, source = self._fallback(judged.problems)
            self._live = self._build(flow, source, judged.problems)

    def current(self) -> Live:
        """Return what serves now: a read, never a load (the first call in a process starts its watcher)."""
        if self._watching != os.getpid():
            self._watch()
        return self._live

    def reload(self) -> list[Problem]:
        """Judge the files again now and wait for it; keep serving the last good flow if they are broken."""
        self._watch()
        with self._lock:
            return self._reload(self._files_stamp())

    def refresh(self) -> None:
        """Rebuild TwiML for the same flow now (after this process changed the audio)."""
        self._watch()
        with self._lock:
            self._live = self._rebuilt(self._live)

    def caught_up(self, timeout: float = 30.0) -> bool:
        """Have the watcher look at the files and the audio as they are now, and wait until it serves
        what they make; False if it has not within `timeout` seconds.

        An edit saved before this call is then served, or refused (see `problems`).
        """
        self._watch()
        deadline = time.monotonic() + timeout
        with self._looked:
            # The look under way now may have read the files before they changed: wait for the next.
            target = self._looks + 2
            while self._looks < target:
                self._wake.set()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._looked.wait(remaining)
            return True

    def verdict(self, flow: Flow | None = None, problems: list[Problem] | None = None) -> Verdict:
        """Judge a flow (the serving one by default) with the audio it would play: what `ivr check` says."""
        flow = flow if flow is not None else self.current().flow
        return verdict(flow, self.audio.present(flow), self.audio.durations(flow), problems)

    @property
    def problems(self) -> list[Problem]:
        """Return what is wrong with the files on disk, if they are refused."""
        return list(self._live.problems)

    @property
    def source(self) -> str:
        """Return where the flow serving now came from: the files, the last good flow, the last resort."""
        return self._live.source

    @property
    def degraded(self) -> bool:
        """Tell whether the line serves anything but the files on disk (they are refused)."""
        return self._live.degraded

    # -- the watcher ---------------------------------------------------------------------------

    def _watch(self) -> None:
        """Start this process's watcher, once. A forked process starts its own: its parent's thread
        is not there, and the lock it may have held is replaced."""
        with _starting:
            pid = os.getpid()
            if self._watching == pid:
                return
            if self._watching:
                self._lock = threading.Lock()
                self._looked = threading.Condition()
                self._wake = threading.Event()
            thread = threading.Thread(
                target=LiveFlow._watcher, args=(weakref.ref(self),), name="ivr-flow-watcher", daemon=True
            )
            try:
                thread.start()
            except RuntimeError as exc:  # no thread to be had: serve on, and try again on the next call
                log.error("the flow watcher could not start (%s): edits are not picked up yet", exc)
                return
            self._watching = pid

    @staticmethod
    def _watcher(ref: weakref.ref[LiveFlow]) -> None:
        """Look for changes every `reload_seconds` for as long as the live flow exists."""
        while True:
            live = ref()
            if live is None:
                return
            period = max(live.reload_seconds, MIN_PERIOD)
            wake = live._wake
            wake.clear()  # set again from here on: look again at once
            try:
                live._poll()
            except Exception:  # noqa: BLE001 - the watcher must outlive anything one look runs into
                serving = live._live.flow.version
                log.exception("looking for changes to the flow failed; version %s serves on", serving)
            with live._looked:
                live._looks += 1
                live._looked.notify_all()
            del live  # held only while looking: a live flow nobody uses any more ends its watcher
            wake.wait(period)

    def _poll(self) -> None:
        """Look once for edited files and changed audio, and swap in what they make."""
        with _fork_guard:
            self.audio.check()
        stamp = self._files_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        if self._live.audio != self.audio.generation:
            # The audio changed (here, or in another process and seen by `check`): new URLs, and
            # perhaps other languages offered.
            with self._lock:
                if self._live.audio != self.audio.generation:
                    self._live = self._rebuilt(self._live)

    # -- judging and building ------------------------------------------------------------------

    def _reload(self, stamp: tuple[tuple[str, int, int], ...]) -> list[Problem]:
        """Judge the files (as they were at `stamp`) and serve them if they pass; the lock is held."""
        try:
            judged = load_apart(self.prompts_dir, self.instance)
        finally:
            self._stamp = stamp  # judged, or failed to: looked at again once they change again
        live = self._live
        if judged.flow is None:
            metrics.FLOW_REFUSED.inc()
            metrics.FLOW_ON_DISK_REFUSED.set(1)
            self._live = replace(live, problems=tuple(judged.problems))
            log.error(
                "flow in %s refused, still serving version %s (%s):\n%s",
                self.prompts_dir, live.flow.version, live.source, "\n".join(str(p) for p in judged.problems),
            )  # fmt: skip
            return judged.problems
        metrics.FLOW_ON_DISK_REFUSED.set(0)
        self._live = self._build(judged.flow, SOURCE_FILES)
        log.info("flow version %s is live", judged.flow.version)
        return []

    def _fallback(self, problems: list[Problem]) -> tuple[Flow, str]:
        """Return what to serve while the files are refused, and its source: the last good flow, else
        the last resort."""
        reasons = "\n".join(str(p) for p in problems)
        kept = snapshot.last_good(self.instance) if self.instance is not None else None
        if kept is not None:
            flow = load_apart(kept).flow
            if flow is not None:
                log.error(
                    "flow in %s refused; serving the last good version %s kept in %s:\n%s",
                    self.prompts_dir, flow.version, kept, reasons,
                )  # fmt: skip
                return flow, SOURCE_SNAPSHOT
        last = judge(snapshot.LAST_RESORT)
        if last.flow is None:  # shipped with the package and tested: never expected
            raise FlowError(problems + last.problems)
        log.error(
            "flow in %s refused and no earlier version kept; serving the last-resort flow "
            "(999 advice, Silent Solution, Refuge):\n%s",
            self.prompts_dir, reasons,
        )  # fmt: skip
        return last.flow, SOURCE_LAST_RESORT

    def _rebuilt(self, live: Live) -> Live:
        """Build what serves again for the same flow, with the audio as it is now."""
        return self._build(live.flow, live.source, live.problems)

    def _build(self, flow: Flow, source: str, problems: tuple[Problem, ...] | list[Problem] = ()) -> Live:
        with _fork_guard, beside_calls(len(flow.nodes) >= LARGE_NODES):
            generation = self.audio.generation
            renderer = Renderer(flow, audio=self.audio.urls(flow), present=self.audio.present(flow))
            # The safe answer is spoken with <Say>: it must work when nothing else does, audio included.
            # A language offered only with audio falls back to the default language's safe answer.
            spoken = Renderer(flow)
            safe = {lang: spoken.safe(lang) for lang in renderer.offered if lang in spoken.offered}
            self._measure(flow, source, renderer)
        return Live(flow, renderer, safe, generation, source, tuple(problems))

    def _measure(self, flow: Flow, source: str, renderer: Renderer) -> None:
        """Tell monitoring which version serves, and how many prompts lack audio where others have it."""
        previous = getattr(self, "_live", None)
        if previous is not None and (previous.flow.version, previous.source) != (flow.version, source):
            metrics.FLOW_LIVE.labels(previous.flow.version, previous.source).set(0)
        metrics.FLOW_LIVE.labels(flow.version, source).set(1)
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
