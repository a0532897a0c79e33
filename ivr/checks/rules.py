"""The registry of the caller's rules: each rule takes a flow and yields its problems."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from ..flow import Flow, Problem, display

log = logging.getLogger(__name__)

Rule = Callable[[Flow], Iterable[Problem]]
RULES: list[Rule] = []


def rule(check: Rule) -> Rule:
    """Register a rule; `validate` runs every registered rule, in the order they were registered."""
    RULES.append(check)
    return check


def validate(flow: Flow) -> list[Problem]:
    """Return every problem the registered rules find; an empty list means the flow may serve.

    A rule that fails on a flow it did not foresee is itself a problem (and logged): the flow is
    refused, as it could not be checked, and `validate` never raises.
    """
    problems: list[Problem] = []
    for check in RULES:
        try:
            for problem in check(flow):
                problems.append(problem)
        except Exception as exc:  # noqa: BLE001 - a fault in one rule must not stop the others
            problems.append(failed(flow, f"rule {check.__name__!r}", exc))
    return problems


def failed(flow: Flow, what: str, exc: BaseException) -> Problem:
    """Log a check that raised, and return the problem that says so: the flow cannot be judged."""
    log.error("%s failed on the flow in %s", what, flow.path.parent, exc_info=exc)
    return Problem(
        display(flow.path),
        None,
        None,
        f"{what} could not check this flow ({type(exc).__name__}: {exc}); "
        "it is refused until the cause is found (see the log)",
    )
