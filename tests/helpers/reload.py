"""Waiting for the line to serve an edit: each process's watcher picks up edited prompt files and
changed audio a moment after they are saved, so a test that changes them waits before it calls."""

from __future__ import annotations

import time

import pytest

from ivr.line.live import Live
from ivr.services import services

TIMEOUT = 60.0  # generous: a loaded test machine, a large flow judged in a child process


def settled(app, timeout: float = TIMEOUT) -> Live:
    """Wait until the app serves the prompt files and the audio as they are now, and return what serves.

    An edit saved before the call is then live, or refused and reported (`/health`, `live.problems`).
    """
    live = services(app).live
    if not live.caught_up(timeout):
        serving = live.current()
        pytest.fail(
            f"the line did not look at {live.prompts_dir} within {timeout:g} s; it still serves "
            f"version {serving.flow.version} ({serving.source})"
        )
    return live.current()


def wait_for_new_version(app, old: str, timeout: float = TIMEOUT) -> Live:
    """Wait until the app serves a version other than `old`; fail saying why it does not."""
    live = services(app).live
    deadline = time.monotonic() + timeout
    while (serving := live.current()).flow.version == old:
        if time.monotonic() > deadline:
            problems = "\n".join(str(p) for p in serving.problems) or "none"
            pytest.fail(
                f"the line still serves version {old} ({serving.source}) {timeout:g} s after an edit; "
                f"problems with the files: {problems}"
            )
        time.sleep(0.01)
    return serving
