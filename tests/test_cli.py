"""The `ivr` command through click's runner."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask.cli import ScriptInfo

from ivr.cli import cli
from ivr.line.simulator import run
from tests.helpers.twilio import TOKEN


def test_check_passes_on_the_shipped_flow(prompts_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--prompts", str(prompts_dir)])
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output
    assert "999 advice within" in result.output


def test_check_fails_naming_the_problem(prompts_dir: Path) -> None:
    flow_file = prompts_dir / "flow.yaml"
    flow_file.write_text(flow_file.read_text().replace("goto: learn_menu}", "goto: nowhere}"))
    result = CliRunner().invoke(cli, ["check", "--prompts", str(prompts_dir)])
    assert result.exit_code == 1
    assert "flow.yaml:" in result.output
    assert "node 'main_menu': leads to unknown node 'nowhere'" in result.output


def test_check_reads_ivr_prompts_dir(prompts_dir: Path, monkeypatch) -> None:
    (prompts_dir / "flow.yaml").write_text("start: [")
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(prompts_dir))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "not valid YAML" in result.output


def test_simulate_prints_the_call(app) -> None:
    result = CliRunner().invoke(
        cli, ["simulate", "1", "2", ".", "1", "busy"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    assert "If you are in danger now, hang up and dial 9 9 9." in result.output
    assert "Getting help." in result.output
    assert "I did not hear a key" in result.output
    assert "[dials +448082000247" in result.output
    assert "Refuge could not answer just now" in result.output


def test_simulate_signs_its_requests(app) -> None:
    call = run(app, ["0", "answered"], token=TOKEN)
    assert [t.status for t in call.turns] == [200, 200, 200]
    assert call.last.hangup
    forged = run(app, [], token="wrong")
    assert forged.turns[0].status == 403


def test_serve_answers_calls_on_the_embedded_defaults(tmp_path: Path) -> None:
    """`ivr serve`, as the README's first command runs it: no settings, a call gets TwiML."""
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.helpers.twilio import ROOT

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env["PYTHONPATH"] = str(ROOT)
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")  # a deployment's folder: prompts/ beside it
    server = subprocess.Popen(
        [sys.executable, "-m", "ivr", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/voice", data=b"CallSid=CA1") as answer:
                    body = answer.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert "<Gather" in body and "9 9 9" in body
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "NOT being verified" in output
