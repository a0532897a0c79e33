"""The registry of the caller's rules: each rule takes a flow and yields its problems."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..flow import Flow, Problem

Rule = Callable[[Flow], Iterable[Problem]]
RULES: list[Rule] = []


def rule(check: Rule) -> Rule:
    """Register a rule; `validate` runs every registered rule, in the order they were registered."""
    RULES.append(check)
    return check


def validate(flow: Flow) -> list[Problem]:
    """Return every problem the registered rules find; an empty list means the flow may serve."""
    return [problem for check in RULES for problem in check(flow)]
