"""The loader never crashes: any malformed value in flow.yaml or a catalogue is a problem with file,
line and reason; `ivr check` prints them and exits 1; a running line keeps its last good flow."""

from __future__ import annotations

import copy
import importlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.checks import load, rules, verdict
from ivr.cli import cli
from ivr.flow import Problem
from ivr.services import services
from tests.helpers.prompts import edit
from tests.helpers.reload import settled
from tests.helpers.twilio import ROOT, post_signed, twiml

# Problems that mean a check itself failed (the safety net caught it): never expected on any edit.
INTERNAL = ("could not check this flow", "the flow could not be read", "the language report failed")


@dataclass(frozen=True)
class Case:
    """An edit of one prompts file, and the problem it must give: its file, words, and text on its line."""

    id: str
    file: str
    old: str  # the text replaced; a line ending in ':' replaces that key's whole block; '' the whole file
    new: str
    reason: str
    line: str | None = None  # a text found on the problem's line (None: the problem has no line)
    where: str | None = None  # the file the problem is in, when it is not the edited one

    def apply(self, prompts_dir: Path) -> None:
        """Make the edit in a copied prompts folder."""
        path = prompts_dir / self.file
        if not self.old:
            _rewrite(path, self.new)
        elif self.old.endswith(":") and "\n" not in self.old:
            _rewrite(path, _replace_block(path.read_text(encoding="utf-8"), self.old, self.new))
        else:
            edit(path, self.old, self.new)


def _rewrite(path: Path, text: str) -> None:
    """Write a whole file, so that its modification stamp surely moves on."""
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1000, before + 1000))


def _replace_block(text: str, header: str, new: str) -> str:
    """Replace a key's line and every more indented line after it (`header` is 'indent + key:')."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.split("#")[0].rstrip() == header)
    indent = len(header) - len(header.lstrip())
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    return "".join(lines[:start]) + new + "\n" + "".join(lines[end:])


ALBANIAN = "    gtts: {lang: sq}"
HELP_REFUGE_WORDS = "    help_refuge: [Refuge number, number]"

# Each edit once crashed the loader, `ivr check` or a running line, or was accepted silently.
CASES = [
    Case(
        "police-spoken-112",
        "flow.yaml",
        '    spoken: "999"\n',
        '    spoken: "112"\n',
        "does not say 999",
        "advice_999:",
        where="en-GB.yaml",
    ),
    Case("gtts-not-a-mapping", "flow.yaml", ALBANIAN, "    gtts: sq", "'gtts' must be a mapping", "gtts: sq"),
    Case(
        "pace-per-second-a-word",
        "en-GB.yaml",
        "pace: {unit: word, per_second: 2.5}",
        'pace: {unit: word, per_second: "fast"}',
        "'per_second' must be",
        "pace:",
    ),
    Case(
        "say-voice-a-number",
        "flow.yaml",
        "say_voice: Polly.Amy",
        "say_voice: 5",
        "'say_voice' must be",
        "say_voice",
    ),
    Case(
        "speech-language-a-list",
        "flow.yaml",
        "    speech_language: en-GB",
        "    speech_language: [x]",
        "'speech_language' must be",
        "speech_language: [x]",
    ),
    Case("limits-a-number", "flow.yaml", "limits:", "limits: 5", "'limits' must be a mapping", "limits: 5"),
    Case(
        "options-a-list",
        "flow.yaml",
        "    options:\n      1: {say: opt_danger, goto: danger}\n"
        "      2: {say: opt_get_help, goto: help_menu}\n"
        "      3: {say: opt_report, goto: report_menu}\n"
        "      4: {say: opt_learn, goto: learn_menu}\n",
        "    options: [opt_danger, opt_get_help]\n",
        "'options' must map keys",
        "options: [",
    ),
    Case(
        "option-key-not-a-phone-key",
        "flow.yaml",
        "      4: {say: opt_learn, goto: learn_menu}",
        "      four: {say: opt_learn, goto: learn_menu}",
        "option 'four' is not a phone key",
        "four:",
    ),
    Case(
        "option-lang-a-list",
        "flow.yaml",
        "      1: {lang: en-GB,",
        "      1: {lang: [en-GB],",
        "'lang' must be a language code",
        "lang: [en-GB]",
    ),
    Case(
        "option-pattern-a-number",
        "en-GB.yaml",
        "  option_pattern: '^To .+, press {key}\\.$'",
        "  option_pattern: 5",
        "'option_pattern' must be",
        "option_pattern: 5",
    ),
    Case(
        "option-pattern-bad-for-some-keys",
        "en-GB.yaml",
        "  option_pattern: '^To .+, press {key}\\.$'",
        "  option_pattern: '^To .+, press [{key}-1]\\.$'",
        "option_pattern is not a valid pattern",
        "option_pattern:",
    ),
    Case(
        "speech-a-list", "en-GB.yaml", "speech:", "speech: [English]", "'speech' must be a mapping", "speech:"
    ),
    Case(
        "speech-route-a-number",
        "en-GB.yaml",
        HELP_REFUGE_WORDS,
        "    help_refuge: 5",
        "must be a list of words",
        "help_refuge: 5",
    ),
    Case(
        "speech-key-a-word",
        "en-GB.yaml",
        '    "*": [again, repeat]',
        '    "*": again',
        "must be a list of words",
        '"*": again',
    ),
    Case(
        "meta-keys-not-a-mapping",
        "en-GB.yaml",
        '  keys: {"*": star, "#": hash}',
        "  keys: star",
        "'keys' must be a mapping",
        "keys: star",
    ),
    Case(
        "nodes-empty",
        "flow.yaml",
        "nodes:",
        "nodes: {}",
        "'nodes' must be a mapping of at least one node",
        "nodes:",
    ),
    Case(
        "global-key-a-word",
        "flow.yaml",
        '  "*": {action: repeat}',
        '  "*": repeat',
        "needs an action",
        '"*": repeat',
    ),
    Case(
        "global-key-node-a-list",
        "flow.yaml",
        '  "0": {action: goto, node: refuge_transfer}',
        '  "0": {action: goto, node: [refuge_transfer]}',
        "'node' must be a node id",
        '"0":',
    ),
    Case(
        "default-language-a-number",
        "flow.yaml",
        "start: greeting\n",
        "start: greeting\ndefault_language: 5\n",
        "'default_language' must be",
        "default_language: 5",
    ),
    Case(
        "alias",
        "flow.yaml",
        "start: greeting\nemergency_prompt: advice_999",
        "start: &first greeting\nemergency_prompt: *first",
        "an alias (*name)",
        "*first",
    ),
    Case(
        "catalogue-a-list",
        "en-GB.yaml",
        "",
        "- English\n- prompts\n",
        "a catalogue must be a mapping",
        "- English",
    ),
    Case(
        "prompt-text-a-list",
        "en-GB.yaml",
        "  main_menu_intro: Main menu.",
        "  main_menu_intro: [Main, menu]",
        "prompt 'main_menu_intro' must be a text",
        "main_menu_intro:",
    ),
    Case(
        "spoken-a-bare-number",
        "flow.yaml",
        '    spoken: "101"',
        "    spoken: 101",
        "'spoken' must be the number as it is published",
        "spoken: 101",
    ),
    Case(
        "e164-an-impossible-date",
        "flow.yaml",
        '    e164: "+448082000247"',
        "    e164: 2024-13-45",
        "cannot be read",
        "e164: 2024-13-45",
    ),
    Case(
        "gtts-slow-a-word",
        "flow.yaml",
        "gtts: {lang: en, tld: co.uk}",
        'gtts: {lang: en, tld: co.uk, slow: "yes"}',
        "'slow' must be true or false",
        "slow:",
    ),
    Case(
        "safe-say-a-number",
        "flow.yaml",
        "safe_say: [advice_999, refuge_number, offer_refuge]",
        "safe_say: 5",
        "'safe_say' must be a list of prompt ids",
        "safe_say: 5",
    ),
]


def check(folder: Path) -> Any:
    """Run `ivr check --prompts FOLDER` as an editor would."""
    return CliRunner().invoke(cli, ["check", "--prompts", str(folder)])


def assert_sound(problems: list[Problem]) -> None:
    """Every problem names its YAML file, a line or none, and a reason; none is a fault of a check itself."""
    for problem in problems:
        assert isinstance(problem, Problem), problem
        assert isinstance(problem.file, str) and problem.file.endswith(".yaml"), problem
        assert problem.line is None or (isinstance(problem.line, int) and problem.line >= 1), problem
        assert isinstance(problem.reason, str) and problem.reason.strip(), problem
        assert str(problem)
        assert not any(words in problem.reason for words in INTERNAL), problem


def assert_check_refuses_or_passes(folder: Path, problems: list[Problem]) -> Any:
    """`ivr check` ends with 0 or 1, never an exception or a traceback; 1 whenever there are problems."""
    result = check(folder)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    if problems:
        assert result.exit_code == 1, result.output
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_malformed_value_is_a_problem_at_its_line(prompts_dir: Path, case: Case) -> None:
    case.apply(prompts_dir)
    flow, problems = load(prompts_dir)
    assert_sound(problems)
    found = [p for p in problems if case.reason in p.reason]
    assert found, "\n".join(str(p) for p in problems)
    problem = found[0]
    assert Path(problem.file).name == (case.where or case.file)
    if case.line is not None:
        assert problem.line is not None, str(problem)
        lines = (prompts_dir / (case.where or case.file)).read_text(encoding="utf-8").splitlines()
        assert case.line in lines[problem.line - 1], (
            f"{problem}: line {problem.line} is {lines[problem.line - 1]!r}"
        )
    if flow is not None:
        judged = verdict(flow, problems=problems)
        assert [str(line) for line in judged.languages]
        assert not any(line.failed for line in judged.languages)
    result = assert_check_refuses_or_passes(prompts_dir, problems)
    assert result.exit_code == 1
    assert case.reason in result.output


def test_a_rule_that_fails_is_a_problem_and_logged(
    prompts_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(flow: Any) -> Iterator[Problem]:
        yield from ()
        raise RuntimeError("a rule's own fault")

    monkeypatch.setattr(rules, "RULES", [*rules.RULES, broken])
    with caplog.at_level(logging.ERROR, logger="ivr.checks"):
        flow, problems = load(prompts_dir)
    assert flow is not None
    assert [p.reason for p in problems if "'broken'" in p.reason] == [
        "rule 'broken' could not check this flow (RuntimeError: a rule's own fault); "
        "it is refused until the cause is found (see the log)"
    ]
    assert any("a rule's own fault" in str(r.exc_info) for r in caplog.records)
    result = assert_check_refuses_or_passes(prompts_dir, problems)
    assert "rule 'broken' could not check this flow" in result.output


def test_a_report_that_fails_is_a_problem_and_logged(
    prompts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow, problems = load(prompts_dir)
    assert flow is not None and problems == []

    def broken(*args: object) -> list[tuple[str, str]]:
        raise RuntimeError("a report's own fault")

    # `ivr.checks.report` the module (the package's `report` is the function of the same name).
    monkeypatch.setattr(importlib.import_module("ivr.checks.report"), "opening", broken)
    judged = verdict(flow)
    assert judged.languages and all(line.failed for line in judged.languages)
    assert "NOT judged (RuntimeError: a report's own fault)" in str(judged.languages[0])
    assert not judged.ok and "the language report failed" in judged.problems[0].reason


# --- A running line keeps serving the last good flow ---------------------------------------------------

GATHER = "/voice/gather?node=main_menu&lang=en-GB&s=0&i=0"


def _says(root: Any) -> str:
    return " ".join("".join(e.itertext()) for e in root.iter("Say"))


def _serves(client: Any) -> str:
    """Walk greeting -> main menu -> help menu (its options' words are speech hints); return what it says."""
    first = twiml(post_signed(client, "/voice", {"CallSid": "CA1"}))
    assert "9 9 9" in _says(first)
    menu = twiml(post_signed(client, GATHER, {"CallSid": "CA1", "Digits": "2"}))
    gather = menu.find("Gather")
    assert gather is not None and "node=help_menu" in gather.get("action", "")
    return _says(menu) + " | hints: " + str(gather.get("hints"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_running_line_keeps_its_last_good_flow(
    app: Any, client: Any, prompts_dir: Path, case: Case
) -> None:
    live = services(app).live
    version = live.current().flow.version
    heard = _serves(client)

    case.apply(prompts_dir)
    settled(app)
    assert _serves(client) == heard
    assert live.current().flow.version == version
    assert any(case.reason in p.reason for p in live.problems), "\n".join(map(str, live.problems))


# --- Any mutation of the shipped files --------------------------------------------------------------------

FILES = sorted(p.name for p in (ROOT / "prompts").glob("*.yaml"))
ORIGINAL = {name: yaml.safe_load((ROOT / "prompts" / name).read_text(encoding="utf-8")) for name in FILES}
WORDS = ["", "x", "fast", "menu", "transfer", "greeting", "advice_999", "999", "112", "+44999", "en-GB", "zz"]
WORDS += [
    "{refuge}",
    "{nowhere}",
    "0808 2000 247",
    "*",
    "#",
    "0",
    "10",
    "[",
    "(",
    "{key}",
    "^To (.+, press {key}$",
]
SCALARS = st.one_of(
    st.integers(-3, 700),
    st.integers(min_value=10**20, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from(WORDS),
    st.text(max_size=8),
)
VALUES = st.one_of(
    SCALARS,
    st.builds(list),
    st.builds(dict),
    st.lists(st.integers(0, 12), min_size=1, max_size=3),
    st.recursive(
        SCALARS,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["say", "goto", "kind", "lang", "1", "x"]) | st.integers(0, 9),
                inner,
                max_size=3,
            )
        ),
        max_leaves=6,
    ),
)
NEW_KEYS = st.one_of(
    st.sampled_from(["x", "sayy", "kind", "1", "10", "*", "prompts", "meta"]),
    st.integers(-1, 12),
    st.text(min_size=1, max_size=6),
)


# Mappings whose keys are names (node ids, prompt ids, keys): their entries share one shape.
COLLECTIONS = {
    "nodes",
    "contacts",
    "languages",
    "global_keys",
    "options",
    "prompts",
    "routes",
    "keys",
    "limits",
}
COLLECTIONS |= {"system_prompts"}


def _positions(
    data: Any, path: tuple[Any, ...] = (), shape: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, ...]]:
    """Yield (path, shape) of every key and list position, parents first; the shape names a place in the
    file's structure ('nodes', '*', 'options', '*', 'goto'), the same for every node, prompt or item."""
    items = (
        list(data.items())
        if isinstance(data, dict)
        else list(enumerate(data))
        if isinstance(data, list)
        else []
    )
    for key, value in items:
        mark = "[]" if isinstance(data, list) else "*" if path and path[-1] in COLLECTIONS else key
        yield (*path, key), (*shape, mark)
        yield from _positions(value, (*path, key), (*shape, mark))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _pick(doc: Any, draw: Callable[..., Any]) -> tuple[Any, ...]:
    """Pick a place in the file's structure, each as likely as any other (however many nodes or prompts
    share it: a uniform pick would nearly always be a prompt), then one path to it."""
    shapes: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for path, shape in _positions(doc):
        shapes.setdefault(shape, []).append(path)
    if not shapes:
        return ()
    shape = draw(st.sampled_from(list(shapes)), label="place")
    return draw(st.sampled_from(shapes[shape]), label="path")


def _mutate(doc: Any, draw: Callable[..., Any]) -> Any:
    """Change one thing in a document: a value's type, a key deleted or renamed, a value shared; return it."""
    path = () if draw(st.integers(0, 30), label="whole") == 0 else _pick(doc, draw)
    how = draw(st.sampled_from(["replace", "replace", "replace", "delete", "rename", "share"]), label="how")
    if not path:
        return copy.deepcopy(draw(VALUES, label="document"))
    parent, key = _at(doc, path[:-1]), path[-1]
    if how == "delete":
        del parent[key]
    elif how == "rename" and isinstance(parent, dict):
        new = draw(NEW_KEYS, label="new key")
        items = list(parent.items())
        parent.clear()
        parent.update({(new if k == key else k): v for k, v in items})
    elif how == "share" and isinstance(parent[key], list | dict):
        # The same object in two places: written out as an anchor (&id) and an alias (*id).
        other = _pick(doc, draw)
        if other and other[: len(path)] != path and path[: len(other)] != other:
            _at(doc, other[:-1])[other[-1]] = parent[key]
    else:
        parent[key] = copy.deepcopy(draw(VALUES, label="value"))
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_edit_crashes_the_loader_or_the_check(prompts_dir: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["flow.yaml", "flow.yaml", *FILES]), label="file")
    doc = copy.deepcopy(ORIGINAL[name])
    for _ in range(data.draw(st.integers(1, 5), label="edits")):
        doc = _mutate(doc, data.draw)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "prompts"
        shutil.copytree(prompts_dir, folder)
        (folder / name).write_text(text, encoding="utf-8")

        flow, problems = load(folder)
        assert_sound(problems)
        if flow is not None:
            judged = verdict(flow, problems=problems)
            assert not any(line.failed for line in judged.languages), [str(x) for x in judged.languages]
            assert_sound(judged.problems)
        assert_check_refuses_or_passes(folder, problems)
