"""Read typed values out of parsed YAML: a value of the wrong type is reported at the line of its
key (a problem for the editor), never raised; what is read is what the model's types promise."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import Any

from .yamlfile import LineDict

# (line, reason): where a value is wrong and why.
Report = Callable[[int | None, str], None]

PHONE_KEYS = "0123456789*#"


def empty() -> LineDict:
    """Return an empty mapping with no lines: what a missing or malformed section reads as."""
    found = LineDict()
    found.key_lines = {}
    return found


def kind_of(value: Any) -> str:
    """Name a YAML value as its editor sees it: 'the number 5', 'a list', 'a mapping'."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (yes/no)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def mapping(parent: LineDict, key: str, report: Report, where: str = "") -> LineDict:
    """Return the mapping under `key` (empty when it is missing); anything else is reported."""
    value = parent.get(key)
    if value is None:
        return empty()
    if not isinstance(value, LineDict):
        report(parent.line_of(key), f"{where}'{key}' must be a mapping, not {kind_of(value)}")
        return empty()
    return value


def text(parent: LineDict, key: str, report: Report, what: str = "a text", where: str = "") -> str | None:
    """Return the text under `key` (None when it is missing or empty); anything else is reported."""
    value = parent.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    report(parent.line_of(key), f"{where}'{key}' must be {what}, not {kind_of(value)}")
    return None


def flag(parent: LineDict, key: str, report: Report, where: str = "") -> bool | None:
    """Return the yes/no under `key` (None when it is missing); anything else is reported."""
    value = parent.get(key)
    if value is None or isinstance(value, bool):
        return value
    report(parent.line_of(key), f"{where}'{key}' must be true or false, not {kind_of(value)}")
    return None


def number(value: Any, low: float, high: float) -> float | None:
    """Return a finite number from low (excluded) to high (included), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not low < value <= high:
        return None
    return float(value)


def words(value: Any, line: int | None, report: Report, what: str) -> list[str] | None:
    """Return a list of words (texts, or whole numbers written bare); anything else is reported."""
    if value is None:
        return []
    if isinstance(value, list) and all(
        isinstance(w, str) or (isinstance(w, int) and not isinstance(w, bool)) for w in value
    ):
        return [str(w) for w in value]
    shown = kind_of(value)
    if isinstance(value, list):
        wrong = next(w for w in value if not isinstance(w, str | int) or isinstance(w, bool))
        shown = f"a list holding {kind_of(wrong)}"
    report(line, f"{what} must be a list of words, e.g. [help, get help], not {shown}")
    return None


def phone_key(key: Any) -> str | None:
    """Return a mapping key as the phone key it names (0-9, * or #), else None."""
    if isinstance(key, bool) or not isinstance(key, str | int):
        return None
    name = str(key)
    return name if len(name) == 1 and name in PHONE_KEYS else None


def unknown(spec: LineDict, known: Collection[str], report: Report, where: str = "") -> None:
    """Report each key of a mapping that is not one of the known fields."""
    for extra in sorted(set(spec) - set(known), key=str):
        report(spec.line_of(extra), f"{where}unknown field {extra!r} (known: {', '.join(known)})")
