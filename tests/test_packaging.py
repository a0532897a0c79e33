"""The line as an operator installs it: a wheel with every module and page, working from any folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from tests.helpers.twilio import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the sources, as `pip wheel .` does on an operator's machine."""
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    local = {".git", "instance", "audio", "artifacts", "build", "dist"}  # the checkout's own, not sources

    def skip(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == ROOT
        return {n for n in names if (top and n in local) or n == "__pycache__" or n.endswith(".egg-info")}

    shutil.copytree(ROOT, source, ignore=skip)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), "."],
        cwd=source, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return next((work / "dist").glob("*.whl"))


def test_the_wheel_holds_every_module_and_the_console_s_pages(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "ivr").rglob("*.py")}
    pages = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "ivr" / "admin").rglob("*")
        if p.suffix in (".html", ".css", ".js")
    }
    assert modules - names == set()
    assert pages and pages - names == set()


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed (its dependencies from this Python's)."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet", str(wheel)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return env_dir


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "PYTHONPATH"))}
    env.update(extra)
    return env


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import ivr; print(ivr.__file__)"],
        cwd=tmp_path, env=environment(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.startswith(str(installed)), done.stdout


def test_installed_check_finds_the_prompts_it_is_given_and_says_what_to_set(
    installed: Path, tmp_path: Path
) -> None:
    ivr = str(installed / "bin" / "ivr")
    elsewhere = tmp_path / "line"
    shutil.copytree(ROOT / "prompts", elsewhere / "flows")
    empty = tmp_path / "empty"
    empty.mkdir()
    found = subprocess.run(
        [ivr, "check"], cwd=empty, capture_output=True, text=True,
        env=environment(IVR_PROMPTS_DIR=str(elsewhere / "flows"), IVR_INSTANCE_DIR=str(tmp_path / "i")),
    )  # fmt: skip
    assert found.returncode == 0, found.stdout + found.stderr
    assert "no problems" in found.stdout
    missing = subprocess.run([ivr, "check"], cwd=empty, capture_output=True, text=True, env=environment())
    assert missing.returncode == 1
    assert "no call flow found" in missing.stderr and "IVR_PROMPTS_DIR" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_installed_serve_answers_from_any_folder(installed: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(installed / "bin" / "ivr"), "serve", "--port", str(port)],
        cwd=tmp_path, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        body = b""
        for _ in range(200):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/voice", data=b"CallSid=CA1").read()
                break
            except OSError:
                time.sleep(0.05)
        assert b"<Gather" in body and b"9 9 9" in body
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login").read()
        assert b"Sign in" in page  # the console's templates came with the wheel
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert (tmp_path / "instance" / "secret_key").is_file()  # the installation's own files, beside it
