"""The `ivr` command through click's runner."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask.cli import ScriptInfo

from ivr.cli import cli
from ivr.simulator import run
from tests.conftest import TOKEN


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
        cli, ["simulate", "2", ".", "1", "busy"], obj=ScriptInfo(create_app=lambda: app)
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
