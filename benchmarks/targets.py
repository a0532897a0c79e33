"""The WSGI apps the benchmark serves, each counting the requests every worker process answers.

The servers load these by name: gunicorn as `benchmarks.targets:service()`, granian as
`--factory benchmarks.targets:service`. Each app is the real one (the line's `ivr.create_app()`,
or a ceiling from benchmarks/ceiling.py) behind one counter: an 8-byte integer in a file named
after the worker's pid, in the folder BENCH_COUNTERS names. The benchmark reads the files before
and after a round to see each worker's share of it, and drops a round that one worker served
nearly alone (keep-alive connections that all landed on one worker measure the lottery, not
the server). The counter costs well under a microsecond per request, the same for every app.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import ceiling

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
COUNTERS = "BENCH_COUNTERS"


class Counted:
    """A WSGI app that counts, per worker process, the requests it is given."""

    def __init__(self, app: WSGIApp, folder: Path) -> None:
        self.app = app
        self.folder = folder
        self.pid = 0
        self.count: memoryview | None = None
        self.lock = threading.Lock()

    def _open(self, pid: int) -> memoryview:
        with self.lock:
            if self.pid != pid or self.count is None:
                path = self.folder / str(pid)
                path.write_bytes(bytes(8))
                with path.open("r+b") as file:
                    self.count = memoryview(mmap.mmap(file.fileno(), 8)).cast("Q")
                self.pid = pid
            return self.count

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        count = self.count if self.pid == os.getpid() and self.count is not None else self._open(os.getpid())
        count[0] += 1  # under the GIL; a rare lost increment between threads does not change a share
        return self.app(environ, start_response)


def read_counts(folder: Path) -> dict[int, int]:
    """Return the requests counted so far by each worker pid that wrote into the folder."""
    counts = {}
    for path in folder.iterdir():
        data = path.read_bytes()
        if path.name.isdigit() and len(data) == 8:
            counts[int(path.name)] = struct.unpack("=Q", data)[0]
    return counts


def _counted(app: WSGIApp) -> WSGIApp:
    folder = os.environ.get(COUNTERS)
    return Counted(app, Path(folder)) if folder else app


def constant() -> WSGIApp:
    """The constant ceiling: every webhook answered with the same TwiML, nothing read."""
    return _counted(ceiling.create_app())


def fair() -> WSGIApp:
    """The fair ceiling: the form read, the signature checked, constant TwiML."""
    return _counted(ceiling.create_fair_app())


def service() -> WSGIApp:
    """The line as deployed (`ivr:create_app()`); IVR_JOURNEYS=0 in the environment turns journeys off."""
    # Imported here, not at the top: a ceiling's start-up must not include the line's imports.
    from ivr import create_app

    return _counted(create_app())
