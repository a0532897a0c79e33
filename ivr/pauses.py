"""Building something large that lives long beside the threads answering calls.

A flow loaded while the line serves, or the database layer a journey writer loads on its first
batch, makes hundreds of thousands of objects at once. Left to itself, the cyclic collector
would walk them (and everything else) while holding the interpreter lock: pauses of 50 ms and
more in every thread of the worker, measured by benchmarks/reload.py. A shared lower module:
it imports nothing of `ivr`.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_SECONDS = 0.001  # how often threads take turns while something large is built
_lock = threading.Lock()
_depth = 0  # builds going on
_saved = (0.005, True)  # the switch interval and whether the collector ran, before the first began


@contextmanager
def beside_calls(large: bool = True) -> Iterator[None]:
    """Build something large that lives long (a flow, its renderer) in a thread beside those
    answering calls, keeping the interpreter lock's waits short for them; for something small
    (`large` false), nothing changes.

    Meanwhile the interpreter switches threads every millisecond (not every five), and the cyclic
    collector is paused; then everything it tracks is moved into its oldest generation at once
    (`gc.freeze` then `gc.unfreeze`: two list merges). Otherwise young collections, then a full one,
    would walk the new objects while holding the lock: on a 10,000-node flow, pauses of tens of
    milliseconds in every thread. Objects frozen on purpose (before a fork, say) stay frozen: the
    collector is then only paused. Two threads building at once (a flow and the database layer)
    share one pause: the last to finish ends it.
    """
    if not large:
        yield
        return
    global _depth, _saved  # noqa: PLW0603 - the one state of the process's collector and switching
    with _lock:
        if _depth == 0:
            _saved = (sys.getswitchinterval(), gc.isenabled())
            sys.setswitchinterval(min(_saved[0], SWITCH_SECONDS))
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if not gc.get_freeze_count():
                    gc.freeze()
                    gc.unfreeze()
                if _saved[1]:
                    gc.enable()
                sys.setswitchinterval(_saved[0])
