"""Building something large beside the calls: the collector paused meanwhile, the new objects
moved to its oldest generation at once, and two builds at once sharing one pause."""

from __future__ import annotations

import gc
import sys

from ivr.pauses import SWITCH_SECONDS, beside_calls


def test_what_is_built_goes_straight_to_the_oldest_generation_and_the_collector_resumes() -> None:
    assert gc.isenabled()
    with beside_calls():
        assert not gc.isenabled() and sys.getswitchinterval() == SWITCH_SECONDS
        built = [[n] for n in range(10_000)]
    assert gc.isenabled()
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(built) in oldest and id(built[-1]) in oldest


def test_two_builds_at_once_share_one_pause_and_the_last_to_finish_ends_it() -> None:
    switching = sys.getswitchinterval()
    flow, database = beside_calls(), beside_calls()
    flow.__enter__()
    database.__enter__()
    flow.__exit__(None, None, None)
    assert not gc.isenabled() and sys.getswitchinterval() == SWITCH_SECONDS  # the database still loads
    database.__exit__(None, None, None)
    assert gc.isenabled() and sys.getswitchinterval() == switching


def test_a_small_build_changes_nothing() -> None:
    switching = sys.getswitchinterval()
    with beside_calls(large=False):
        assert gc.isenabled() and sys.getswitchinterval() == switching
