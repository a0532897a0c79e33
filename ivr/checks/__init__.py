"""The caller's rules: whether a flow may serve, and what callers would hear if it did.

Owns loading-and-validating (`load`, `load_valid`), the rules as a registry of functions
(`rules`; registered by `structure` and `accessibility`), and the per-language report with
the rules on measured audio (`report`). `verdict` is the one answer to "what would callers
hear if this went live" for `ivr check`, `ivr languages status` and the console.

May import: `ivr.flow` only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..flow import FLOW_FILE, Flow, FlowError, Problem, display, parse
from ..flow.languages import Lookup
from ..flow.queries import Durations
from . import accessibility, structure  # noqa: F401 - importing them registers their rules
from .report import LanguageReport, measured_problems, report, timing_problems
from .rules import RULES, failed, rule, validate

__all__ = [
    "RULES",
    "LanguageReport",
    "Verdict",
    "load",
    "load_valid",
    "rule",
    "validate",
    "verdict",
]

log = logging.getLogger(__name__)


def load(prompts_dir: Path) -> tuple[Flow | None, list[Problem]]:
    """Load and validate the flow and catalogues in a folder; return the flow and all problems.

    The flow is None when it cannot be built at all; otherwise it is returned even with
    problems, so that tools can show it. Serving needs an empty problem list.
    """
    try:
        flow, problems = parse(prompts_dir)
    except Exception as exc:  # noqa: BLE001 - never expected: parsing reports every fault it knows
        log.error("reading the flow in %s failed", prompts_dir, exc_info=exc)
        reason = f"the flow could not be read ({type(exc).__name__}: {exc}); see the log"
        return None, [Problem(display(prompts_dir / FLOW_FILE), None, None, reason)]
    if flow is not None:
        problems += validate(flow)
    return flow, problems


def load_valid(prompts_dir: Path) -> Flow:
    """Load the flow, raising FlowError with every problem unless it is wholly valid."""
    flow, problems = load(prompts_dir)
    if problems or flow is None:
        raise FlowError(problems or [Problem(str(prompts_dir), None, None, "no flow")])
    return flow


@dataclass(frozen=True)
class Verdict:
    """What callers would hear from a flow with the given audio: every problem, and each language."""

    problems: list[Problem]
    languages: list[LanguageReport]

    @property
    def ok(self) -> bool:
        """Tell whether the flow may serve as it is."""
        return not self.problems


def verdict(
    flow: Flow,
    present: Lookup | None = None,
    durations: Durations | None = None,
    problems: list[Problem] | None = None,
) -> Verdict:
    """Judge a flow with its audio: the rules on the texts (unless already found), then on the
    audio's measured lengths."""
    problems = list(validate(flow) if problems is None else problems)
    if durations is not None:
        try:
            problems += measured_problems(flow, durations)
        except Exception as exc:  # noqa: BLE001 - the verdict says so rather than raising
            problems.append(failed(flow, "measuring the audio", exc))
    try:
        languages = report(flow, present, durations)
    except Exception as exc:  # noqa: BLE001 - `report` guards each language; this is the last net
        problems.append(failed(flow, "the language report", exc))
        languages = []
    for line in languages:
        if line.failed:
            problems.append(
                Problem(
                    display(flow.path), None, None, f"{line.lang}: the language report failed: {line.failed}"
                )
            )
    if durations is not None:  # the texts' estimates are rules already: these are the audio's own lengths
        problems += [p for p in timing_problems(flow, languages) if p not in problems]
    return Verdict(problems, languages)
