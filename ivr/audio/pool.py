"""ffmpeg, kept from starving the calls: every run niced below the webhooks and limited in memory, CPU
and wall-clock time; one conversion at a time per process, one more waiting briefly, any other
refused at once, so that uploads hold few of the threads that answer calls (README, "Prompt audio")."""

from __future__ import annotations

import math
import os
import resource
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# ffmpeg runs at this niceness: a webhook that wants the CPU gets it first.
NICENESS = 10
# Memory one run may write to (RLIMIT_DATA: heap, anonymous maps, thread stacks): decoding at most a
# prompt's length (see sound.decode_limit) takes 60-90 MB; an uncapped 20-hour file took 5.9 GB.
MEMORY_BYTES = 512 * 1024 * 1024
# Its address space, a backstop only: ffmpeg maps ~480 MB of code and per-thread malloc arenas that it
# never touches, so a 512 MB RLIMIT_AS made ordinary conversions fail at random (no thread stacks).
ADDRESS_BYTES = 2 * 1024 * 1024 * 1024
# The most one run may write: a converted prompt is about 1.2 MB (150 s of 8 kB/s).
OUTPUT_BYTES = 64 * 1024 * 1024
# Conversions at once in one process (a gunicorn worker), requests that may wait for one (any other
# is refused at once), and how long they wait.
SLOTS = 1
WAITERS = 1
WAIT_SECONDS = 2.0

BUSY = "the server is busy converting other recordings; try again in a minute"
TOO_SLOW = "the file took too long to convert"
TOO_BIG = "the file needs too much memory to decode"
# What ffmpeg (C, and the C++ of some libraries) prints when an allocation fails under the limit.
OUT_OF_MEMORY = ("cannot allocate memory", "bad_alloc", "out of memory")

slots = threading.BoundedSemaphore(SLOTS)
waiters = threading.BoundedSemaphore(WAITERS)


class ConversionError(Exception):
    """ffmpeg could not use a file; `reason` says why in words a member of staff understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def run(command: list[str], seconds: float) -> subprocess.CompletedProcess[str]:
    """Run a command niced and limited, for at most `seconds`; ConversionError if it ran out of either."""
    cpu = max(1, math.ceil(seconds))

    def limit() -> None:
        # In the child, between fork and exec. preexec_fn is unsafe in a threaded server in general,
        # not here: five system calls through modules imported long before, and no lock taken.
        os.nice(NICENESS)
        resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BYTES, MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_BYTES, ADDRESS_BYTES))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_BYTES, OUTPUT_BYTES))

    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=seconds,
            check=False,
            preexec_fn=limit,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConversionError(TOO_SLOW) from exc
    if done.returncode == -signal.SIGXCPU:
        raise ConversionError(TOO_SLOW)
    if done.returncode != 0 and any(words in done.stderr.lower() for words in OUT_OF_MEMORY):
        raise ConversionError(TOO_BIG)
    return done


@contextmanager
def slot(wait: float | None = None) -> Iterator[None]:
    """Hold one of this process's conversion slots; ConversionError if none is free soon enough.

    One request at a time waits for a slot, up to `wait` seconds; any other is refused at once, so
    that uploads never hold more than SLOTS + WAITERS of the threads that also answer the calls.
    """
    got = slots.acquire(blocking=False)
    if not got and waiters.acquire(blocking=False):
        try:
            got = slots.acquire(timeout=WAIT_SECONDS if wait is None else wait)
        finally:
            waiters.release()
    if not got:
        raise ConversionError(BUSY)
    try:
        yield
    finally:
        slots.release()
