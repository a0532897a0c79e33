"""The README tells the truth: its commands, settings and routes exist, and the reverse."""

from __future__ import annotations

import pytest

from ivr.cli import cli
from tests.helpers.twilio import ROOT

README = (ROOT / "README.md").read_text()


def test_first_lines_give_the_two_commands() -> None:
    head = README[:1500]
    assert "pip install -e . && ivr serve" in head
    assert "pip install -e '.[test]' && python3 -m pytest" in head


def test_ci_runs_the_readme_test_command() -> None:
    assert "python3 -m pytest" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command: str) -> None:
    if command in ("run", "shell", "routes"):  # Flask's own
        return
    assert f"`ivr {command}" in README


def test_every_route_is_documented(app) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/admin") or "<" in rule.rule:
            continue
        assert f"{rule.rule}`" in README, rule.rule
