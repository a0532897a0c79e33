"""The call flow: the leaf that every other part of the line builds on.

Owns the flow model (`model`), reading `prompts/flow.yaml` and the catalogues with line
numbers (`parse`, `catalogue`, `yamlfile`; `fields` reads each value's type, so that a malformed
value is a problem at its line, never an exception), and the questions every part asks of a flow
(`queries`: prompts heard where, language order, speech length, says-999; `languages`:
which languages callers are offered; `speech`: spoken answers).

May import: nothing else of `ivr`, and no web or database library (import-linter keeps it so).
Whether a flow may serve is not decided here but in `ivr.checks`.
"""

from __future__ import annotations

from .catalogue import Catalogue, Language
from .model import Contact, Flow, FlowError, GlobalKey, Limits, Node, Option, Problem, Voice, display
from .parse import FLOW_FILE, parse

__all__ = [
    "FLOW_FILE",
    "Catalogue",
    "Contact",
    "Flow",
    "FlowError",
    "GlobalKey",
    "Language",
    "Limits",
    "Node",
    "Option",
    "Problem",
    "Voice",
    "display",
    "parse",
]
