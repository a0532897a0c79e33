"""Commands that cannot do their work say why in one plain line and exit non-zero, never a traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.audio import make_voice
from tests.helpers.twilio import ROOT


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the probe goes: nothing listens there


@pytest.fixture
def shell(tmp_path: Path):
    """Run `ivr …` as staff do, in a folder with the prompts, with the given settings."""
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(PYTHONPATH=str(ROOT), IVR_SECRET_KEY="k" * 32)

    def run(*args: str, stdin: str = "", **settings: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ivr", *args], cwd=tmp_path, env={**env, **settings}, input=stdin,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    return run


DATABASE_COMMANDS = [
    ("users", "add", "alice", "--role", "admin", "--password-stdin"),
    ("users", "list"),
    ("journeys", "purge"),
    ("report",),
    ("db", "upgrade"),
]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_a_database_that_is_down_is_one_line(shell, command: tuple[str, ...]) -> None:
    down = f"postgresql+psycopg://ivr@127.0.0.1:{closed_port()}/ivr"
    done = shell(*command, stdin="a long enough passphrase\n", IVR_DATABASE_URL=down)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cannot be reached" in errors[0], done.stderr


def test_a_full_disk_is_one_line(shell, tmp_path: Path) -> None:
    out = tmp_path / "script"
    out.mkdir()
    (out / "script-en-GB.html").symlink_to("/dev/full")  # every write there fails: no space left
    done = shell("prompts", "script", "--lang", "en-GB", "--out", str(out))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "Error: the disk is full" in done.stderr


def test_a_path_that_cannot_be_written_is_one_line(shell, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    done = shell("prompts", "script", "--out", str(blocker / "script"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("Error: ") and str(blocker) in done.stderr


def test_an_instance_folder_that_cannot_be_made_is_one_line(shell, tmp_path: Path) -> None:
    blocker = tmp_path / "instance-file"
    blocker.write_text("")
    done = shell("languages", "status", IVR_INSTANCE_DIR=str(blocker / "instance"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("Error: Not a directory")


def test_scratch_folders_a_killed_import_left_are_removed_by_the_next_run(shell, tmp_path: Path) -> None:
    work = tmp_path / "audio" / ".work"
    dead = work / "4194303-killed"  # above Linux's highest process id: no process has it
    mine = work / f"{os.getpid()}-running"  # a run still going on (this test's own process)
    for folder in (dead, mine):
        folder.mkdir(parents=True)
        (folder / "out.wav").write_bytes(b"half a file")
    take = tmp_path / "takes" / "en-GB" / "welcome.wav"
    make_voice(take)
    done = shell("prompts", "import", "--hold", str(take))  # what is published does not matter here
    assert done.returncode == 0, done.stderr
    assert not dead.exists() and mine.exists()
