"""The flow model: frozen dataclasses for a call flow, its contacts, voices and limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import Catalogue

KINDS = ("menu", "message", "transfer", "end", "language")
ACTIONS = ("goto", "repeat", "back", "slow")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the flow or a catalogue, with where it is and why."""

    file: str
    line: int | None
    node: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        node = f" node {self.node!r}:" if self.node else ""
        return f"{where}:{node} {self.reason}"


@dataclass(frozen=True)
class Option:
    key: str
    say: str
    goto: str
    line: int | None = None
    lang: str | None = None  # only in a language menu: the language this key chooses


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    say: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    next: str | None = None
    contact: str | None = None
    on_answered: str | None = None
    on_failed: str | None = None
    failed_say: tuple[str, ...] = ()
    back: str | None = None
    line: int | None = None

    def option(self, key: str) -> Option | None:
        """Return the option for a key, if the node has one."""
        return next((o for o in self.options if o.key == key), None)

    def targets(self) -> list[str]:
        """Return every node id this node can lead to by its own options and outcomes."""
        found = [o.goto for o in self.options]
        found += [t for t in (self.next, self.on_answered, self.on_failed) if t]
        return found


@dataclass(frozen=True)
class GlobalKey:
    key: str
    action: str
    node: str | None = None


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    spoken: str
    e164: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Voice:
    """How a language is spoken: Twilio's <Say> voice, and gTTS's settings."""

    say_voice: str | None
    say_language: str | None
    gtts: Mapping[str, Any] = field(default_factory=dict)
    speech_language: str | None = None  # Twilio's speech recognition language; None: keypad only


@dataclass(frozen=True)
class Limits:
    gather_timeout: int = 6
    pass_timeout: int = 2
    silences: int = 3
    invalid_keys: int = 3
    dial_timeout: int = 30
    prompt_seconds: int = 40  # speech budget of one prompt
    option_seconds: int = 8  # speech budget of one menu option
    own_999_seconds: int = 60  # speech before the 999 advice in the caller's own language
    refuge_seconds: int = 30  # speech before the key to Refuge is said, in the default language
    own_refuge_seconds: int = 90  # and in the caller's own language
    speech_confidence: int = 50  # percent: a spoken answer below it counts as an unknown key


@dataclass(frozen=True)
class Flow:
    """A whole call flow, its contacts, and the catalogue of every language."""

    start: str
    nodes: Mapping[str, Node]
    contacts: Mapping[str, Contact]
    global_keys: Mapping[str, GlobalKey]
    voices: Mapping[str, Voice]
    limits: Limits
    system_prompts: Mapping[str, str]
    emergency_prompt: str
    on_limit: str
    safe_say: tuple[str, ...]
    catalogue: Catalogue
    path: Path
    version: str
    default_language: str = "en-GB"

    def back_of(self, node_id: str) -> str:
        """Return where '#' goes from a node: its declared or derived parent."""
        node = self.nodes[node_id]
        return node.back or node_id


class FlowError(Exception):
    """The flow cannot be loaded; `problems` says every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def display(path: Path) -> str:
    """Show a path relative to the working folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
