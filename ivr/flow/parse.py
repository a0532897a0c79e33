"""Parse prompts/flow.yaml and the catalogues beside it into a Flow, every fault a Problem.

Parsing builds what can be built and reports the rest with file and line; it never decides
whether a flow may serve (that is `ivr.checks`).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import yamlfile
from .catalogue import Catalogue, Language, load_language
from .model import ACTIONS, KINDS, Contact, Flow, GlobalKey, Limits, Node, Option, Problem, Voice, display

FLOW_FILE = "flow.yaml"


def parse(prompts_dir: Path) -> tuple[Flow | None, list[Problem]]:
    """Read a folder's flow and catalogues; return the flow (None if it cannot be built) and problems."""
    path = prompts_dir / FLOW_FILE
    fname = display(path)
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
        problems += [Problem(display(cat_path), line, None, reason) for line, reason in cat_problems]
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
            speech_language=spec.get("speech_language"),
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
        lang = ospec.get("lang")
        options.append(Option(str(key), ospec["say"], ospec["goto"], oline, str(lang) if lang else None))
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
