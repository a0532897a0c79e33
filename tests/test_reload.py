"""Edits are picked up beside the calls: no call waits for a reload, a new version goes live whole,
a refused edit keeps the last good flow and says why, and every process watches for itself."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from benchmarks.flowgen import generate
from ivr import create_app
from ivr.line import snapshot
from ivr.line.loading import APART_BYTES, folder_bytes
from ivr.line.simulator import Call
from ivr.services import services
from tests.helpers.prompts import edit
from tests.helpers.reload import settled, wait_for_new_version
from tests.helpers.twilio import ROOT, TOKEN

LARGE = 3000  # generated nodes: files judged in a child process, taking a second or more


@pytest.fixture
def large_dir(tmp_path: Path) -> Path:
    folder = generate(ROOT / "prompts", tmp_path / "large", LARGE)
    assert folder_bytes(folder) > APART_BYTES, "the generated flow is too small to be judged apart"
    return folder


@pytest.fixture
def large_app(app_config, large_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    return create_app({**app_config, "PROMPTS_DIR": str(large_dir)})


def greeting(app) -> str:  # type: ignore[no-untyped-def]
    """Ring the line; return the greeting's TwiML."""
    turn = Call(app, TOKEN).start()
    assert turn.status == 200, turn.twiml
    return turn.twiml


def test_calls_are_answered_while_an_edit_of_a_large_flow_is_judged(
    large_app, large_dir: Path, instance_dir: Path
) -> None:
    live = services(large_app).live
    old = live.current().flow.version
    edit(large_dir / "en-GB.yaml", "Topic a: a short", "Topic a: a brief")
    edited = time.monotonic()
    took: list[float] = []
    while live.current().flow.version == old:
        began = time.monotonic()
        assert "Derbyshire Victim Services" in greeting(large_app)
        took.append(time.monotonic() - began)
        assert time.monotonic() - edited < 120, "the edit was never served"
        time.sleep(0.02)  # callers ringing one after another, not a flood
    reload = time.monotonic() - edited
    assert reload > 0.3, f"judging {LARGE} nodes took only {reload:.2f} s: nothing to wait for"
    # Before the new version served, calls went on being answered, each in a fraction of the reload.
    assert len(took) >= 5, f"{len(took)} calls answered during a reload of {reload:.2f} s"
    assert max(took) < reload / 2, f"a call took {max(took):.2f} s during a reload of {reload:.2f} s"
    # The new version is kept as the last good flow, for a restart while the files are refused.
    new = live.current().flow.version
    kept = instance_dir / snapshot.CURRENT
    while not (kept.is_symlink() and os.readlink(kept) == f"{snapshot.FOLDER}/{new}"):
        assert time.monotonic() - edited < 120, "the new version was never kept"
        time.sleep(0.05)


def test_a_new_version_goes_live_whole(app, prompts_dir: Path) -> None:
    """Callers ringing during a reload hear the old texts or the new ones, never a mixture, and once
    a caller has heard the new version no later caller hears the old one."""
    old_words = ("the trafficking help line.", "If you are in danger now,")
    new_words = ("the trafficking helpline.", "If you are in danger,")
    assert all(w in greeting(app) for w in old_words)
    heard: list[list[str]] = [[] for _ in range(4)]
    done = threading.Event()

    def ring(mine: list[str]) -> None:
        while not done.is_set():
            text = greeting(app)
            old, new = [sum(w in text for w in words) for words in (old_words, new_words)]
            mine.append("old" if old == 2 and new == 0 else "new" if new == 2 and old == 0 else text)
            time.sleep(0.005)

    callers = [threading.Thread(target=ring, args=(mine,)) for mine in heard]
    for caller in callers:
        caller.start()
    try:
        time.sleep(0.2)
        catalogue = prompts_dir / "en-GB.yaml"
        text = catalogue.read_text()
        for old, new in zip(old_words, new_words, strict=True):
            assert old in text
            text = text.replace(old, new, 1)
        temporary = prompts_dir / ".en-GB.yaml.saving"
        temporary.write_text(text)
        temporary.replace(catalogue)  # saved in one step, as editors save
        settled(app)
        time.sleep(0.2)
    finally:
        done.set()
        for caller in callers:
            caller.join(timeout=30)
    for mine in heard:
        mixed = [h for h in mine if h not in ("old", "new")]
        assert not mixed, f"a caller heard a mixture of two versions:\n{mixed[0]}"
        assert "old" in mine and mine[-1] == "new"
        first_new = mine.index("new")
        assert "old" not in mine[first_new:], "a caller heard the old version after the new one"


def test_a_refused_edit_of_a_large_flow_keeps_the_last_good_one_and_says_why(
    large_app, large_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = large_app.test_client()
    good = client.get("/health").get_json()
    assert good["status"] == "ok"
    catalogue = large_dir / "en-GB.yaml"
    before = catalogue.read_text()
    with caplog.at_level(logging.ERROR, logger="ivr.line.live"):
        edit(catalogue, "  topic_7_text:", "  topic_seven_text:")
        settled(large_app)
    health = client.get("/health").get_json()
    assert health["status"] == "degraded" and health["flow"] == good["flow"]
    assert health["serving"] == "prompts" and health["on_disk"]["refused"]
    assert any("topic_7_text" in p for p in health["on_disk"]["first"]), health
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused and good["flow"] in refused[0] and "topic_7_text" in refused[0], refused
    assert "Derbyshire Victim Services" in greeting(large_app)

    catalogue.write_text(before.replace("Topic a: a short", "Topic a: a brief"))
    live = wait_for_new_version(large_app, good["flow"])
    assert not live.problems
    assert client.get("/health").get_json()["status"] == "ok"


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_process_watches_the_files_itself(app, prompts_dir: Path) -> None:
    """A worker forked from a process that already served (gunicorn's preload) picks up edits made
    after the fork: only a watcher of its own can have seen them."""
    old = greeting(app)
    assert "the trafficking help line." in old
    context = multiprocessing.get_context("fork")
    ready, edited = context.Event(), context.Event()
    answers = context.Queue()

    def worker() -> None:
        ready.set()
        edited.wait(60)
        deadline = time.monotonic() + 60
        text = greeting(app)
        while "the trafficking help line." in text and time.monotonic() < deadline:
            time.sleep(0.02)
            text = greeting(app)
        answers.put(text)

    process = context.Process(target=worker)
    process.start()
    try:
        assert ready.wait(60)
        edit(prompts_dir / "en-GB.yaml", "the trafficking help line.", "the trafficking helpline.")
        edited.set()
        heard = answers.get(timeout=90)
    finally:
        process.join(timeout=30)
    assert process.exitcode == 0
    assert "the trafficking helpline." in heard, heard
    settled(app)  # the parent's own watcher looks on its own schedule
    assert "the trafficking helpline." in greeting(app)


def test_a_line_nobody_serves_any_more_stops_watching(app_config) -> None:
    before = set(threading.enumerate())
    app = create_app(app_config)
    services(app).live.current()
    watchers = [t for t in set(threading.enumerate()) - before if t.name == "ivr-flow-watcher"]
    assert len(watchers) == 1
    del app
    gc.collect()
    watchers[0].join(timeout=30)
    assert not watchers[0].is_alive(), "the watcher of an app nobody holds goes on looking"
