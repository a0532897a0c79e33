"""The call flow: frozen dataclasses read from prompts/flow.yaml, and the catalogue beside it."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import yamlfile
from .prompts import Catalogue, Language, load_language

KINDS = ("menu", "message", "transfer", "end")
ACTIONS = ("goto", "repeat", "back")
FLOW_FILE = "flow.yaml"


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


@dataclass(frozen=True)
class Limits:
    gather_timeout: int = 6
    pass_timeout: int = 2
    silences: int = 3
    invalid_keys: int = 3
    dial_timeout: int = 30


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

    @property
    def languages(self) -> list[str]:
        """Return the languages that have both a voice entry and a catalogue, default first."""
        codes = [c for c in self.voices if c in self.catalogue.languages]
        return sorted(codes, key=lambda c: (c != self.default_language, c))

    def back_of(self, node_id: str) -> str:
        """Return where '#' goes from a node: its declared or derived parent."""
        node = self.nodes[node_id]
        return node.back or node_id


class FlowError(Exception):
    """The flow cannot be loaded; `problems` says every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load(prompts_dir: Path) -> tuple[Flow | None, list[Problem]]:
    """Load and validate the flow and catalogues in a folder; return the flow and all problems.

    The flow is None when it cannot be built at all; otherwise it is returned even with
    problems, so that tools can show it. Serving needs an empty problem list.
    """
    from .checks import validate

    flow, problems = _parse(prompts_dir)
    if flow is not None:
        problems += validate(flow)
    return flow, problems


def load_valid(prompts_dir: Path) -> Flow:
    """Load the flow, raising FlowError with every problem unless it is wholly valid."""
    flow, problems = load(prompts_dir)
    if problems or flow is None:
        raise FlowError(problems or [Problem(str(prompts_dir), None, None, "no flow")])
    return flow


def _parse(prompts_dir: Path) -> tuple[Flow | None, list[Problem]]:
    path = prompts_dir / FLOW_FILE
    fname = _display(path)
    try:
        data, raw = yamlfile.load(path)
    except yamlfile.YamlError as exc:
        return None, [Problem(fname, exc.line, None, exc.reason)]
    if not isinstance(data, yamlfile.LineDict):
        return None, [Problem(fname, 1, None, "the flow must be a mapping")]
    problems: list[Problem] = []

    def problem(line: int | None, node: str | None, reason: str) -> None:
        problems.append(Problem(fname, line, node, reason))

    languages: dict[str, Language] = {}
    digest = hashlib.sha256(raw)
    for cat_path in sorted(prompts_dir.glob("*.yaml")):
        if cat_path.name == FLOW_FILE:
            continue
        language, cat_problems = load_language(cat_path)
        digest.update(cat_path.read_bytes() if language else b"")
        problems += [Problem(_display(cat_path), line, None, reason) for line, reason in cat_problems]
        if language:
            languages[language.code] = language

    contacts: dict[str, Contact] = {}
    for cid, spec in _mapping(data, "contacts", problem).items():
        line = data["contacts"].line_of(cid)
        if not isinstance(spec, dict) or "spoken" not in spec:
            problem(line, None, f"contact {cid!r} needs 'spoken', the number as it is published")
            continue
        e164 = spec.get("e164")
        contacts[str(cid)] = Contact(
            id=str(cid),
            name=str(spec.get("name", cid)),
            spoken=str(spec["spoken"]),
            e164=str(e164) if e164 is not None else None,
            line=line,
        )

    global_keys: dict[str, GlobalKey] = {}
    for key, spec in _mapping(data, "global_keys", problem).items():
        line = data["global_keys"].line_of(key)
        action = spec.get("action") if isinstance(spec, dict) else None
        if action not in ACTIONS:
            problem(line, None, f"global key {key!r} needs an action: {', '.join(ACTIONS)}")
            continue
        if str(key) not in "0123456789*#" or len(str(key)) != 1:
            problem(line, None, f"global key {key!r} is not a phone key")
            continue
        global_keys[str(key)] = GlobalKey(str(key), str(action), spec.get("node"))

    voices: dict[str, Voice] = {}
    for code, spec in _mapping(data, "languages", problem).items():
        spec = spec if isinstance(spec, dict) else {}
        voices[str(code)] = Voice(
            say_voice=spec.get("say_voice"),
            say_language=spec.get("say_language"),
            gtts=dict(spec.get("gtts") or {}),
        )

    limit_spec = _mapping(data, "limits", problem)
    limit_values: dict[str, int] = {}
    for name, value in limit_spec.items():
        if name not in Limits.__dataclass_fields__:
            problem(limit_spec.line_of(name), None, f"unknown limit {name!r}")
        elif not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 600:
            problem(limit_spec.line_of(name), None, f"limit {name!r} must be a whole number from 1 to 600")
        else:
            limit_values[str(name)] = value

    nodes: dict[str, Node] = {}
    node_specs = _mapping(data, "nodes", problem)
    for nid, spec in node_specs.items():
        node = _parse_node(str(nid), spec, node_specs.line_of(nid), problem)
        if node:
            nodes[node.id] = node

    if not data.get("safe_say"):
        problem(data.line_of("safe_say"), None, "'safe_say' must list what a caller hears if anything fails")
    for required in ("start", "emergency_prompt", "on_limit"):
        if not isinstance(data.get(required), str):
            problem(
                data.line_of(required),
                None,
                f"'{required}' must name a {'prompt' if required == 'emergency_prompt' else 'node'}",
            )
    if problems and not nodes:
        return None, problems

    flow = Flow(
        start=str(data.get("start", "")),
        nodes=_with_parents(nodes, str(data.get("start", "")), global_keys),
        contacts=contacts,
        global_keys=global_keys,
        voices=voices,
        limits=Limits(**limit_values),
        system_prompts={str(k): str(v) for k, v in _mapping(data, "system_prompts", problem).items()},
        emergency_prompt=str(data.get("emergency_prompt", "")),
        on_limit=str(data.get("on_limit", "")),
        safe_say=_prompt_list(data, "safe_say", None, problem),
        catalogue=Catalogue(languages, {c.id: c.spoken for c in contacts.values()}),
        path=path,
        version=digest.hexdigest()[:12],
        default_language=str(data.get("default_language", "en-GB")),
    )
    return flow, problems


def _parse_node(nid: str, spec: Any, line: int | None, problem: Any) -> Node | None:
    if not isinstance(spec, yamlfile.LineDict):
        problem(line, nid, "a node must be a mapping with a 'kind'")
        return None
    kind = spec.get("kind")
    if kind not in KINDS:
        problem(line, nid, f"kind {kind!r} is not one of {', '.join(KINDS)}")
        return None
    known = {"kind", "say", "options", "next", "contact", "on_answered", "on_failed", "failed_say", "back"}
    for extra in sorted(set(spec) - known, key=str):
        problem(spec.line_of(extra), nid, f"unknown field {extra!r}")
    options: list[Option] = []
    opt_specs: Any = spec.get("options") or {}
    if not isinstance(opt_specs, dict):
        problem(spec.line_of("options"), nid, "'options' must map keys to {say, goto}")
        opt_specs = {}
    for key, ospec in opt_specs.items():
        oline = opt_specs.line_of(key) if isinstance(opt_specs, yamlfile.LineDict) else line
        if (
            not isinstance(ospec, dict)
            or not isinstance(ospec.get("say"), str)
            or not isinstance(ospec.get("goto"), str)
        ):
            problem(oline, nid, f"option {key!r} needs 'say' (a prompt id) and 'goto' (a node id)")
            continue
        options.append(Option(str(key), ospec["say"], ospec["goto"], oline))
    return Node(
        id=nid,
        kind=kind,
        say=_prompt_list(spec, "say", nid, problem),
        options=tuple(options),
        next=_opt_str(spec, "next"),
        contact=_opt_str(spec, "contact"),
        on_answered=_opt_str(spec, "on_answered"),
        on_failed=_opt_str(spec, "on_failed"),
        failed_say=_prompt_list(spec, "failed_say", nid, problem),
        back=_opt_str(spec, "back"),
        line=line,
    )


def _with_parents(nodes: dict[str, Node], start: str, keys: Mapping[str, GlobalKey]) -> dict[str, Node]:
    """Give each node without a declared 'back' the first menu that reaches it from the start."""
    parents: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        current = queue.popleft()
        node = nodes.get(current)
        if node is None:
            continue
        for target in node.targets():
            if target not in seen:
                seen.add(target)
                # The node a greeting passes through to is the top: its back is itself.
                parents[target] = current if node.options else parents.get(current, target)
                queue.append(target)
    result = {}
    for nid, node in nodes.items():
        back = node.back or parents.get(nid) or nid
        result[nid] = replace(node, back=back)
    return result


def _mapping(data: yamlfile.LineDict, key: str, problem: Any) -> yamlfile.LineDict:
    value = data.get(key)
    if value is None:
        empty = yamlfile.LineDict()
        empty.key_lines = {}
        return empty
    if not isinstance(value, yamlfile.LineDict):
        problem(data.line_of(key), None, f"'{key}' must be a mapping")
        empty = yamlfile.LineDict()
        empty.key_lines = {}
        return empty
    return value


def _opt_str(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    return str(value) if value is not None else None


def _prompt_list(spec: Any, key: str, nid: str | None, problem: Any) -> tuple[str, ...]:
    value = spec.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problem(spec.line_of(key), nid, f"'{key}' must be a list of prompt ids")
        return ()
    return tuple(value)


def _display(path: Path) -> str:
    """Show a path relative to the working folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
