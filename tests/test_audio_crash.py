"""Atomic writes: a render killed at any moment leaves whole files and a manifest that tells the truth."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import responses

from ivr.cli import cli
from ivr.services import services
from tests.helpers.audio import SOME, check_consistent, gtts_mp3, mock_google, publish_waiting
from tests.helpers.twilio import ROOT


@pytest.fixture(scope="module")
def mp3() -> bytes:
    return gtts_mp3(0.8)


# English only: the counts below are of one language's prompts (the flow has several).
ENGLISH_SOME = ("--lang", "en-GB", *SOME)

CRASHER = textwrap.dedent(
    """
    import os, signal, sys, time
    import responses
    from ivr import create_app
    from ivr.cli import cli
    from tests.helpers.audio import GTTS_URL, FakeGoogle

    google = FakeGoogle(open(sys.argv[2], "rb").read())  # speech as long as each text takes
    crash_at = int(sys.argv[3])
    seen = []

    def answer(request):
        seen.append(1)
        if len(seen) == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)  # the power goes off mid-run
        time.sleep(0.08)  # Google's latency: the run is still going when the test kills it
        return google(request)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.POST, GTTS_URL, callback=answer)
        app = create_app({"PROMPTS_DIR": sys.argv[1] + "/prompts", "AUDIO_DIR": sys.argv[1] + "/audio",
                          "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
        app.test_cli_runner().invoke(cli, ["prompts", "render", *sys.argv[4:]], catch_exceptions=False)
    """
)


def run_crasher(tmp_path: Path, mp3: bytes, crash_at: int) -> subprocess.Popen[str]:
    payload = tmp_path / "payload.mp3"
    payload.write_bytes(mp3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(tmp_path), str(payload), str(crash_at), *ENGLISH_SOME],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish_and_check(app, root: Path, mp3: bytes) -> None:  # type: ignore[no-untyped-def]
    """What the dead run rendered waits as candidates, whole: an admin publishes them. The next run
    renders exactly what the dead one left, and clears its scratch folder."""
    done = check_consistent(root) if (root / "manifest.json").exists() else 0
    lib, flow = services(app).audio, services(app).live.current().flow
    publish_waiting(lib, flow)
    assert sum(row.state == "fresh" for row in lib.status(flow, "en-GB")) == done
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_google(rsps, mp3)
        services(app).audio.clean_work(older_than=0)
        result = app.test_cli_runner().invoke(cli, ["prompts", "render", *ENGLISH_SOME])
    assert result.exit_code == 0, result.output
    assert f"{len(SOME) - done} rendered" in result.output
    assert check_consistent(root, strict=True) == len(SOME)
    assert not any((root / ".work").iterdir())


def test_a_render_killed_at_a_request_leaves_a_true_manifest(
    app, tmp_path: Path, prompts_dir: Path, mp3
) -> None:
    process = run_crasher(tmp_path, mp3, crash_at=4)
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err
    assert check_consistent(tmp_path / "audio") >= 1
    finish_and_check(app, tmp_path / "audio", mp3)


@pytest.mark.parametrize("delay", [0.0, 0.07, 0.2], ids=["at-first-write", "70ms-later", "200ms-later"])
def test_a_render_killed_at_any_moment_leaves_no_half_file(
    app, tmp_path: Path, prompts_dir: Path, mp3, delay: float
) -> None:
    process = run_crasher(tmp_path, mp3, crash_at=0)
    manifest = tmp_path / "audio" / "manifest.json"
    deadline = time.monotonic() + 120
    while not manifest.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)  # wherever it is: in ffmpeg, renaming, writing the manifest
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    finish_and_check(app, tmp_path / "audio", mp3)
