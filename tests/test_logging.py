"""The log of a running line: its own events, one line each, and never a caller's number."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr import logs
from ivr.logs import MASK, mask
from tests.helpers.twilio import ROOT, TOKEN, sign

CALLER = "+447700900123"
LINE = "+441332000111"
# Every way the numbers can be written: as sent, URL-encoded, without the +, as a UK national number.
FORMS = (CALLER, LINE, "447700900123", "441332000111", "%2B447700900123", "07700900123")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call_the_line(base: str) -> None:
    """Ring the line as Twilio does, by POST and by GET, signed and not, with the caller's number."""
    params = {"CallSid": "CA" + "5" * 32, "From": CALLER, "To": LINE, "Caller": CALLER, "Called": LINE}
    body = urllib.parse.urlencode(params).encode()
    for path in ("/voice", "/voice/gather?node=main_menu&lang=en-GB"):
        url = base + path
        request = urllib.request.Request(url, data=body, headers=sign(url, params))
        with urllib.request.urlopen(request) as answer:
            assert b"<Response>" in answer.read()
    for path in ("/voice", "/voice/gather?node=main_menu&lang=en-GB&Digits=1"):
        url = base + path + ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        with urllib.request.urlopen(urllib.request.Request(url, headers=sign(url, {}))) as answer:
            assert b"<Response>" in answer.read()
    try:  # unsigned: refused, and the refusal is logged
        urllib.request.urlopen(base + "/voice?" + urllib.parse.urlencode(params))
    except urllib.error.HTTPError as refused:
        assert refused.code == 403
    else:
        raise AssertionError("an unsigned webhook was answered")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A folder with prompts/ beside it, and the environment of a production line."""
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(PYTHONPATH=str(ROOT), TWILIO_AUTH_TOKEN=TOKEN, IVR_SECRET_KEY="k" * 32)
    yield tmp_path, env


def run(command: list[str], cwd: Path, env: dict[str, str], port: int) -> str:
    """Start a server, call it, stop it with SIGTERM; return everything it wrote."""
    server = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/health").read()
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.05)
        call_the_line(base)
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    return output


def assert_no_number(output: str) -> None:
    leaked = [line for line in output.splitlines() if any(form in line for form in FORMS)]
    assert not leaked, leaked


def test_ivr_serve_logs_events_and_requests_without_numbers(deployment) -> None:
    folder, env = deployment
    port = free_port()
    output = run([sys.executable, "-m", "ivr", "serve", "--port", str(port)], folder, env, port)
    assert_no_number(output)
    assert "INFO ivr: flow version" in output and "is live" in output
    assert '"GET /voice HTTP/1.1" 200' in output  # the access log: the path, not the query
    assert '"POST /voice/gather HTTP/1.1" 200' in output
    assert "refused a GET request to /voice without a valid Twilio signature" in output
    assert "SIGTERM: finishing the requests in flight" in output


def test_ivr_serve_logs_json_lines_when_asked(deployment) -> None:
    folder, env = deployment
    port = free_port()
    env["IVR_LOG_JSON"] = "1"
    output = run([sys.executable, "-m", "ivr", "serve", "--port", str(port)], folder, env, port)
    assert_no_number(output)
    lines = [line for line in output.splitlines() if not line.startswith("Serving the line")]
    entries = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["logger"] == "werkzeug" and '"GET /voice HTTP/1.1" 200' in e["message"] for e in entries)


def test_gunicorn_with_the_deploy_config_logs_no_numbers(deployment) -> None:
    pytest.importorskip("gunicorn")
    folder, env = deployment
    port = free_port()
    env["IVR_WORKERS"] = "2"
    command = [
        sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "ivr:create_app()",
    ]  # fmt: skip
    output = run(command, folder, env, port)
    assert_no_number(output)
    assert "flow version" in output and "is live" in output
    assert '"GET /voice HTTP/1.1" 200' in output
    assert "refused a GET request to /voice" in output


@pytest.mark.parametrize(
    "text",
    [
        "GET /voice?From=%2B447700900123&To=%2B441332000111 HTTP/1.1",
        f"caller {CALLER} pressed 1",
        "call from +44 7700 900123",
        "national 07700900123.",
    ],
)
def test_numbers_are_masked_in_any_log_line(text: str) -> None:
    masked = mask(text)
    assert MASK in masked
    assert not any(form in masked for form in FORMS)


@pytest.mark.parametrize(
    "text", ["flow version 3f9c2a1be07d is live (21 nodes)", "2026-11-29 19:35:54,123 INFO", "took 0.0123 s"]
)
def test_other_figures_are_left_alone(text: str) -> None:
    assert mask(text) == text


def test_a_handler_set_up_elsewhere_masks_too() -> None:
    """Under a test runner or a logging config of the operator's, the line masks on their handlers."""
    root = logging.getLogger()
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    keep = Keep()
    root.addHandler(keep)
    try:
        logs.configure()
        logging.getLogger("ivr.test").warning("caller %s", CALLER)
    finally:
        root.removeHandler(keep)
    assert seen == [f"caller {MASK}"]
