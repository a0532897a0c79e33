"""Validation of the flow and catalogues: the shipped flow passes, each fault is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.checks import load, load_valid
from ivr.flow import FlowError
from tests.helpers.prompts import edit
from tests.helpers.twilio import ROOT


def test_shipped_flow_is_valid() -> None:
    flow, problems = load(ROOT / "prompts")
    assert problems == []
    assert flow is not None
    assert flow.start == "greeting"


FAULTS = [
    ("flow.yaml", "goto: learn_menu}", "goto: nowhere}", ["main_menu", "unknown node 'nowhere'"]),
    ("flow.yaml", "say: [help_intro]", "say: [no_such_prompt]", ["help_menu", "'no_such_prompt' is missing"]),
    ("flow.yaml", "      4: {say: opt_learn, goto: learn_menu}\n", "", ["learn_menu", "cannot be reached"]),
    (
        "flow.yaml",
        "      2: {say: opt_report_crimestoppers, goto: report_crimestoppers}\n",
        "      3: {say: opt_report_crimestoppers, goto: report_crimestoppers}\n",
        ["report_menu", "numbered 1 to 2"],
    ),
    (
        "flow.yaml",
        "      4: {say: opt_dvs, goto: help_dvs}\n",
        "      4: {say: opt_dvs, goto: help_dvs}\n      5: {say: opt_dvs, goto: help_dvs}\n",
        ["help_menu", "at most 4"],
    ),
    (
        "flow.yaml",
        "      2: {say: opt_report_crimestoppers, goto: report_crimestoppers}\n",
        "      2: {say: opt_report_crimestoppers, goto: report_crimestoppers}\n"
        "      0: {say: opt_report_crimestoppers, goto: report_crimestoppers}\n",
        ["report_menu", "key '0' is a global key"],
    ),
    ("flow.yaml", 'e164: "+448082000247"', 'e164: "08082000247"', ["refuge", "not a valid E.164"]),
    (
        "flow.yaml",
        'e164: "+448082000247"',
        'e164: "+448082000248"',
        ["refuge", "is not the number 0808 2000 247"],
    ),
    (
        "en-GB.yaml",
        "opt_report: To hear how to report trafficking, press 3.",
        "opt_report: Press 3 to report.",
        ["goal first"],
    ),
    (
        "flow.yaml",
        "say: [welcome, advice_999, silent_solution, offer_refuge]",
        "say: [welcome, offer_refuge]",
        ["greeting", "999 advice"],
    ),
    (
        "en-GB.yaml",
        "Derbyshire Victim Services: the trafficking help line.",
        "Welcome to Derbyshire Victim Services, the county's confidential line for everyone affected by "
        "human trafficking, modern slavery and forced labour, in any way at all.",
        ["greeting", "999 advice ends", "15 s"],
    ),
    (
        "flow.yaml",
        "    kind: menu\n    say: [report_intro]",
        # report_menu loses its options to a new node x that follows it.
        "    kind: menu\n    say: [report_intro]\n    options: {}\n"
        "  x:\n    kind: menu\n    say: [report_intro]",
        ["a menu with no options is a dead end"],
    ),
    (
        "flow.yaml",
        "    kind: end\n    say: [goodbye]",
        "    kind: message\n    say: [goodbye]",
        ["goodbye", "dead end"],
    ),
    (
        "flow.yaml",
        "    contact: refuge\n",
        "    contact: samaritans\n",
        ["refuge_transfer", "unknown contact 'samaritans'"],
    ),
    (
        "flow.yaml",
        "    kind: menu\n    say: [main_menu_intro]",
        "    kind: menu\n    sayy: [main_menu_intro]",
        ["main_menu", "unknown field 'sayy'"],
    ),
    (
        "en-GB.yaml",
        "The number is {refuge}.",
        "The number is {refugee}.",
        ["refuge_number", "unknown number {refugee}"],
    ),
    (
        "flow.yaml",
        '    spoken: "999"\n',
        '    spoken: "999"\n    e164: "+44999"\n',
        ["never dials an emergency number"],
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "words"), FAULTS, ids=[f[3][-1] for f in FAULTS])
def test_each_fault_is_named(prompts_dir: Path, file: str, old: str, new: str, words: list[str]) -> None:
    edit(prompts_dir / file, old, new)
    flow, problems = load(prompts_dir)
    text = "\n".join(str(p) for p in problems)
    assert problems, "the fault was not found"
    for word in words:
        assert word in text, text


def test_yaml_syntax_error_names_the_line(prompts_dir: Path) -> None:
    path = prompts_dir / "flow.yaml"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip() == "main_menu:")
    lines[index + 1] = "    kind: [menu"
    path.write_text("\n".join(lines))
    flow, problems = load(prompts_dir)
    assert flow is None
    assert len(problems) == 1
    assert problems[0].file.endswith("flow.yaml")
    assert problems[0].line is not None and abs(problems[0].line - (index + 2)) <= 2
    assert "not valid YAML" in problems[0].reason


def test_problem_names_file_line_and_node(prompts_dir: Path) -> None:
    edit(prompts_dir / "flow.yaml", "goto: learn_menu}", "goto: nowhere}")
    _, problems = load(prompts_dir)
    lines = (prompts_dir / "flow.yaml").read_text().splitlines()
    problem = next(p for p in problems if "nowhere" in p.reason)
    assert problem.node == "main_menu"
    assert "main_menu:" in lines[problem.line - 1]
    assert str(problem).startswith(f"{problem.file}:{problem.line}: node 'main_menu':")


def test_load_valid_raises_with_every_problem(prompts_dir: Path) -> None:
    edit(prompts_dir / "flow.yaml", "goto: learn_menu}", "goto: nowhere}")
    edit(prompts_dir / "flow.yaml", "say: [help_intro]", "say: [no_such_prompt]")
    with pytest.raises(FlowError) as caught:
        load_valid(prompts_dir)
    assert len(caught.value.problems) >= 2


def test_back_goes_to_the_menu_that_leads_here(flow) -> None:
    assert flow.back_of("learn_signs") == "learn_menu"
    assert flow.back_of("learn_menu") == "main_menu"
    assert flow.back_of("main_menu") == "main_menu"
