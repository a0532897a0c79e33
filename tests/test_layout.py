"""The house: packages that show the architecture, dependencies one way, one home for each answer."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.helpers.twilio import ROOT

PACKAGES = ("flow", "checks", "line", "audio", "journeys", "admin", "cli")
SOURCES = sorted((ROOT / "ivr").rglob("*.py"))


def test_the_import_contracts_hold() -> None:
    """import-linter, with the contracts in pyproject.toml: the one-way layers and the leaf.

    In its own process: it sets up logging of its own, which would silence this run's loggers.
    """
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    done = subprocess.run(
        [sys.executable, "-c", command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("ivr", exclude_type_checking_imports=True)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                cycles.append(" -> ".join((module, *chain)))
    assert not cycles, "\n".join(cycles)


# The one place an import inside a function is meant: the console, imported only where it runs (the
# line's own workers never load it, and start about 50 ms sooner).
# Each keeps a line worker's start light (tests/test_console_apart.py checks what it loads):
DEFERRED_ON_PURPOSE = {
    ("ivr/__init__.py", "_with_console"),  # the console's code, only where the console runs
    ("ivr/services.py", "engine"),  # the database layer (SQLAlchemy), when something first needs it
    ("ivr/journeys/store.py", "_database"),  # the journey tables, when the writer first has a batch
}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_deferred_imports_of_the_line_s_own_modules(path: Path) -> None:
    """An import inside a function hides a dependency (and often dodges a cycle): all are at the top."""
    tree = ast.parse(path.read_text())
    where = str(path.relative_to(ROOT))
    hidden = [
        node.lineno
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        and (where, function.name) not in DEFERRED_ON_PURPOSE
        for node in ast.walk(function)
        if (isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ivr")))
        or (isinstance(node, ast.Import) and any(a.name.startswith("ivr") for a in node.names))
    ]
    assert not hidden, f"{path.name}: imports inside functions at lines {hidden}"


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_says_what_it_owns_and_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / "ivr" / package / "__init__.py").read_text())) or ""
    assert "Owns" in doc or "owns" in doc, doc
    assert "May import" in doc, doc


def test_services_are_reached_through_one_accessor() -> None:
    reached = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in SOURCES
        if path.name != "services.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "extensions[" in line or "extensions.get(" in line
    ]
    assert not reached, reached


def test_modules_are_kept_to_a_readable_size() -> None:
    long = {str(p.relative_to(ROOT)): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 450}
    assert not long, f"split by responsibility: {long}"


def test_only_the_tts_module_imports_gtts() -> None:
    importers = [
        str(p.relative_to(ROOT))
        for p in SOURCES
        if re.search(r"^\s*(from gtts|import gtts)", p.read_text(), re.M)
    ]
    assert importers == ["ivr/audio/tts.py"]
