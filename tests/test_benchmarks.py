"""The benchmark measures what it claims: a valid generated flow, and requests the service accepts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from benchmarks.calls import PATHS, lua_script, record_calls
from benchmarks.flowgen import generate
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
