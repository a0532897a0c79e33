"""The benchmark measures what it claims: a valid generated flow, and requests the service accepts."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from benchmarks import ceiling, memory, reliability, servers, slowclients
from benchmarks.calls import PATHS, lua_script, record_calls
from benchmarks.flowgen import generate
from benchmarks.targets import Counted, read_counts
from benchmarks.webhooks import SHIPPED, Candidate, choose, least_share
from ivr import checks
from ivr.cli import cli
from tests.helpers.twilio import ROOT


def test_a_generated_flow_passes_ivr_check(tmp_path: Path) -> None:
    folder = generate(ROOT / "prompts", tmp_path / "prompts", 300)
    result = CliRunner().invoke(cli, ["check", "--prompts", str(folder)])
    assert result.exit_code == 0, result.output
    shipped, _ = checks.load(ROOT / "prompts")
    assert shipped is not None
    # language_welcome is dropped: only the one kept language leads to it.
    assert f"{len(shipped.nodes) - 1 + 300} nodes, no problems" in result.output


def test_the_recorded_load_walks_every_path_and_is_signed_for_its_host() -> None:
    # record_calls raises unless the service accepted every request (200 or 204).
    requests = record_calls("http://127.0.0.1:9999", "a-token", calls=len(PATHS))
    paths = [r.path.partition("?")[0] for r in requests]
    assert paths.count("/voice") == len(PATHS)
    assert paths.count("/voice/status") == len(PATHS)
    assert "/voice/dial" in paths and "/voice/gather" in paths
    script = lua_script(requests, "127.0.0.1:9999")
    assert script.count("X-Twilio-Signature") == 1
    assert all(r.signature in script for r in requests)


def test_a_worker_s_share_of_a_round_counts_workers_that_served_nothing() -> None:
    assert least_share({1: 10, 2: 10}, {1: 70, 2: 50}, workers=2) == 0.4
    assert least_share({1: 10}, {1: 60}, workers=2) == 0.0  # the other worker never answered
    assert least_share({}, {}, workers=2) == 0.0


def test_the_winner_is_the_fastest_eligible_server_and_a_tie_goes_to_the_one_that_resists_slow_clients() -> (
    None
):
    fast = Candidate(clean=True, rps=5000, paced_p99_ms=4.0, slow_ok=False)
    assert choose({"a": fast, "b": Candidate(True, 4900, 5.0, True)}) == ("b", ["a", "b"])
    assert choose({"a": fast, "b": Candidate(True, 4000, 3.0, True)}) == ("a", ["a"])
    assert choose({"a": Candidate(False, 9000, 1.0, True), "b": Candidate(True, 100, 12.0, True)}) == (
        None,
        [],
    )


def test_a_tie_within_the_noise_keeps_the_shipped_server_and_a_clear_difference_does_not() -> None:
    shipped = Candidate(clean=True, rps=5000, paced_p99_ms=5.1, slow_ok=False)
    other = Candidate(clean=True, rps=5100, paced_p99_ms=4.2, slow_ok=False)
    assert choose({SHIPPED: shipped, "sync": other}) == (SHIPPED, [SHIPPED, "sync"])
    quicker = Candidate(clean=True, rps=5100, paced_p99_ms=2.0, slow_ok=False)
    assert choose({SHIPPED: shipped, "sync": quicker}) == ("sync", [SHIPPED, "sync"])
    faster = Candidate(clean=True, rps=9000, paced_p99_ms=5.0, slow_ok=False)
    assert choose({SHIPPED: shipped, "granian": faster}) == ("granian", ["granian"])


def test_a_server_that_lost_a_webhook_on_reload_or_went_down_when_workers_were_killed_is_not_eligible() -> (
    None
):
    fast = Candidate(True, 5000, 4.0, True, reload_ok=True, killed_ok=True)
    assert choose({"a": fast, "b": Candidate(True, 3000, 5.0, True, True, True)}) == ("a", ["a"])
    assert choose(
        {
            "a": Candidate(True, 5000, 4.0, True, False, True),
            "b": Candidate(True, 3000, 5.0, True, True, True),
        }
    ) == ("b", ["b"])
    assert choose({"a": Candidate(True, 5000, 4.0, True, True, False)}) == (None, [])
    # Not measured (--no-reliability): the rest of the rule decides.
    assert choose({"a": Candidate(True, 5000, 4.0, True)}) == ("a", ["a"])


def test_a_stream_s_tally_counts_every_request_not_answered_2xx_as_lost() -> None:
    outcomes = [
        reliability.Outcome(0.0, 0.002, ""),
        reliability.Outcome(0.1, 0.4, "HTTP 502"),
        reliability.Outcome(0.2, 0.2005, "refused"),
        reliability.Outcome(0.3, 0.301, "refused"),
    ]
    tally = reliability.Tally.of(outcomes)
    assert (tally.sent, tally.answered, tally.lost) == (4, 1, 3)
    assert tally.failures_text() == "1 HTTP 502, 2 refused"
    assert tally.worst_ms == pytest.approx(300)


def test_the_counted_app_counts_each_worker_s_requests_in_a_file_named_by_its_pid(tmp_path: Path) -> None:
    app = Counted(ceiling.create_app(), tmp_path)
    client = Flask(__name__).test_client()  # only for its WSGI plumbing
    client.application.wsgi_app = app  # type: ignore[method-assign]
    for _ in range(3):
        assert client.post("/voice").status_code == 200
    assert read_counts(tmp_path) == {os.getpid(): 3}


def test_a_process_s_memory_counts_a_page_it_alone_holds_wholly_and_a_shared_one_in_part() -> None:
    """The figures of benchmarks/memory.py, read for this process before and after it fills 64 MiB."""
    before = memory.memory(os.getpid())
    held = bytearray(os.urandom(1024)) * (64 * 1024)  # 64 MiB, every page written: private to us
    after = memory.memory(os.getpid())
    assert len(held) == 64 * 1024 * 1024
    assert before.rss >= before.pss >= before.private > 0
    for part in ("rss", "pss", "private"):
        assert getattr(after, part) - getattr(before, part) == pytest.approx(64, abs=4), (part, before, after)


@pytest.mark.skipif(shutil.which("granian") is None, reason="granian is not installed")
def test_a_server_answers_signed_calls_and_counts_them_per_worker(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TWILIO_AUTH_TOKEN": "a-token",
        "IVR_SECRET_KEY": "k" * 32,
        "IVR_INSTANCE_DIR": str(tmp_path),
        "IVR_DATABASE_URL": f"sqlite:///{tmp_path / 'j.db'}",
    }
    server = servers.start(servers.CONFIGS["granian"], "service", 1, 2, env, tmp_path)
    try:
        first = record_calls(f"http://{server.host}", "a-token", calls=1)[0]
        result = slowclients.measure("127.0.0.1", server.port, first, slow=3, calls=2, settle=0.2)
        assert (result.answered, result.calls) == (2, 2), result
        assert sum(server.counts().values()) >= 3  # /health, then the two calls
        assert len(server.workers()) == 1 and server.cpu_seconds() > 0
    finally:
        server.stop()
    assert server.process.returncode == 0


@pytest.mark.skipif(importlib.util.find_spec("gunicorn") is None, reason="gunicorn is not installed")
def test_gunicorn_reloads_under_load_without_losing_a_webhook_and_serves_on_after_killed_workers(
    tmp_path: Path,
) -> None:
    server = servers.start(
        servers.CONFIGS["gunicorn-sync"], "service", 2, 1, servers.environment(tmp_path), tmp_path
    )
    try:
        requests = record_calls(f"http://{server.host}", servers.TOKEN, calls=2)
        before = set(server.workers())
        reloaded = reliability.measure_reload(server, requests, seconds=2, hups=(0.5,), settle_s=0.5)
        assert reloaded.tally.sent > 20 and reloaded.ok, reloaded
        assert reloaded.summary() == f"0 lost / {reloaded.tally.sent}"
        assert not before & set(server.workers())
        killed = reliability.measure_kills(server, requests, first_s=0.3, gap_s=0.3, after_s=1.5)
        assert killed.killed == 2 and killed.up and killed.workers == 2, killed
        assert all(s is not None for s in killed.answered_again_s)
        assert killed.summary().startswith("up, ")
    finally:
        server.stop()
