"""Parse prompts/flow.yaml and the catalogues beside it into a Flow, every fault a Problem.

Parsing builds what can be built and reports the rest with file and line: a value of the
wrong type is a problem at the line of its key, never an exception. It never decides whether
a flow may serve (that is `ivr.checks`).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import fields, yamlfile
from .catalogue import Catalogue, Language, load_language
from .fields import kind_of
from .model import ACTIONS, KINDS, Contact, Flow, GlobalKey, Limits, Node, Option, Problem, Voice, display
from .yamlfile import LineDict

FLOW_FILE = "flow.yaml"
FLOW_FIELDS = (
    "start",
    "emergency_prompt",
    "on_limit",
    "safe_say",
    "default_language",
    "limits",
    "system_prompts",
    "global_keys",
    "languages",
    "contacts",
    "nodes",
)
CONTACT_FIELDS = ("name", "spoken", "e164")
KEY_FIELDS = ("action", "node")
VOICE_FIELDS = ("say_voice", "say_language", "speech_language", "gtts")
GTTS_FIELDS = ("lang", "tld", "slow")
NODE_FIELDS = ("kind", "say", "options", "next", "contact", "on_answered", "on_failed", "failed_say", "back")
OPTION_FIELDS = ("say", "goto", "lang")
DEFAULT_LANGUAGE = "en-GB"

# (line, node id or None, reason)
Found = Callable[[int | None, str | None, str], None]


def parse(prompts_dir: Path) -> tuple[Flow | None, list[Problem]]:
    """Read a folder's flow and catalogues; return the flow (None if it cannot be built) and problems."""
    path = prompts_dir / FLOW_FILE
    fname = display(path)
    try:
        data, raw = yamlfile.load(path)
    except yamlfile.YamlError as exc:
        return None, [Problem(fname, exc.line, None, exc.reason)]
    if not isinstance(data, LineDict):
        return None, [Problem(fname, 1, None, f"the flow must be a mapping, not {kind_of(data)}")]
    problems: list[Problem] = []

    def problem(line: int | None, node: str | None, reason: str) -> None:
        problems.append(Problem(fname, line, node, reason))

    def report(line: int | None, reason: str) -> None:
        problems.append(Problem(fname, line, None, reason))

    fields.unknown(data, FLOW_FIELDS, report)
    languages, version = _catalogues(prompts_dir, raw, problems)
    contacts = _contacts(data, report)
    global_keys = _global_keys(data, report)
    voices = _voices(data, report)
    limits = _limits(data, report)
    system_prompts = _system_prompts(data, report)
    nodes = _nodes(data, problem)

    safe_say = _prompt_list(data, "safe_say", report)
    if safe_say == ():
        report(data.line_of("safe_say"), "'safe_say' must list what a caller hears if anything fails")
    for required, what in (("start", "a node"), ("emergency_prompt", "a prompt"), ("on_limit", "a node")):
        value = data.get(required)
        if not isinstance(value, str) or not value:
            shown = "" if value is None else f", not {kind_of(value)}"
            report(data.line_of(required), f"'{required}' must name {what}{shown}")
    default = fields.text(data, "default_language", report, "a language code, e.g. en-GB")
    if problems and not nodes:
        return None, problems

    start = _str(data.get("start"))
    flow = Flow(
        start=start,
        nodes=_with_parents(nodes, start, global_keys),
        contacts=contacts,
        global_keys=global_keys,
        voices=voices,
        limits=limits,
        system_prompts=system_prompts,
        emergency_prompt=_str(data.get("emergency_prompt")),
        on_limit=_str(data.get("on_limit")),
        safe_say=safe_say or (),
        catalogue=Catalogue(languages, {c.id: c.spoken for c in contacts.values()}),
        path=path,
        version=version,
        default_language=default or DEFAULT_LANGUAGE,
    )
    return flow, problems


def _catalogues(prompts_dir: Path, raw: bytes, problems: list[Problem]) -> tuple[dict[str, Language], str]:
    """Read every catalogue beside the flow; return them and the version of all the files together."""
    languages: dict[str, Language] = {}
    digest = hashlib.sha256(raw)
    for cat_path in sorted(prompts_dir.glob("*.yaml")):
        if cat_path.name == FLOW_FILE:
            continue
        language, cat_problems = load_language(cat_path)
        problems += [Problem(display(cat_path), line, None, reason) for line, reason in cat_problems]
        if language is None:
            continue
        try:
            digest.update(cat_path.read_bytes())
        except OSError as exc:  # removed or unreadable since it was read a moment ago
            problems.append(Problem(display(cat_path), None, None, f"cannot read the file: {exc.strerror}"))
            continue
        languages[language.code] = language
    return languages, digest.hexdigest()[:12]


def _contacts(data: LineDict, report: fields.Report) -> dict[str, Contact]:
    contacts: dict[str, Contact] = {}
    specs = fields.mapping(data, "contacts", report)
    for cid, spec in specs.items():
        line = specs.line_of(cid)
        where = f"contact {cid!r}: "
        if not isinstance(spec, LineDict):
            report(line, f"{where}must be a mapping of name, spoken and e164, not {kind_of(spec)}")
            continue
        fields.unknown(spec, CONTACT_FIELDS, report, where)
        spoken = fields.text(
            spec, "spoken", report, 'the number as it is published, in quotes ("101")', where
        )
        e164 = fields.text(spec, "e164", report, 'the number to dial, in quotes ("+44...")', where)
        name = fields.text(spec, "name", report, "a text", where)
        if spoken is None:
            if spec.get("spoken") in (None, ""):
                report(line, f"contact {cid!r} needs 'spoken', the number as it is published")
            continue
        contacts[str(cid)] = Contact(id=str(cid), name=name or str(cid), spoken=spoken, e164=e164, line=line)
    return contacts


def _global_keys(data: LineDict, report: fields.Report) -> dict[str, GlobalKey]:
    global_keys: dict[str, GlobalKey] = {}
    specs = fields.mapping(data, "global_keys", report)
    for key, spec in specs.items():
        line = specs.line_of(key)
        name = fields.phone_key(key)
        if name is None:
            report(line, f"global key {key!r} is not a phone key: 0-9, * or #")
            continue
        action = spec.get("action") if isinstance(spec, LineDict) else None
        if not isinstance(spec, LineDict) or not isinstance(action, str) or action not in ACTIONS:
            report(line, f"global key {name!r} needs an action: {', '.join(ACTIONS)}")
            continue
        where = f"global key {name!r}: "
        fields.unknown(spec, KEY_FIELDS, report, where)
        node = fields.text(spec, "node", report, "a node id", where)
        if action == "goto" and node is None and spec.get("node") in (None, ""):
            report(line, f"global key {name!r} goes to a node: give it 'node'")
        global_keys[name] = GlobalKey(name, action, node)
    return global_keys


def _voices(data: LineDict, report: fields.Report) -> dict[str, Voice]:
    voices: dict[str, Voice] = {}
    specs = fields.mapping(data, "languages", report)
    for code, spec in specs.items():
        where = f"language {code!r}: "
        if spec is None:
            spec = fields.empty()
        elif not isinstance(spec, LineDict):
            report(
                specs.line_of(code),
                f"{where}must be a mapping of {', '.join(VOICE_FIELDS)} ({{}} for none), not {kind_of(spec)}",
            )
            spec = fields.empty()
        fields.unknown(spec, VOICE_FIELDS, report, where)
        gtts_spec = fields.mapping(spec, "gtts", report, where)
        fields.unknown(gtts_spec, GTTS_FIELDS, report, f"{where}gtts: ")
        gtts: dict[str, Any] = {}
        for name in ("lang", "tld"):
            value = fields.text(gtts_spec, name, report, "a text", f"{where}gtts: ")
            if value is not None:
                gtts[name] = value
        slow = fields.flag(gtts_spec, "slow", report, f"{where}gtts: ")
        if slow is not None:
            gtts["slow"] = slow
        voices[str(code)] = Voice(
            say_voice=fields.text(spec, "say_voice", report, "a Twilio voice name, e.g. Polly.Amy", where),
            say_language=fields.text(spec, "say_language", report, "a language code, e.g. en-GB", where),
            gtts=gtts,
            speech_language=fields.text(spec, "speech_language", report, "a language code", where),
        )
    return voices


def _limits(data: LineDict, report: fields.Report) -> Limits:
    spec = fields.mapping(data, "limits", report)
    values: dict[str, int] = {}
    for name, value in spec.items():
        if name not in Limits.__dataclass_fields__:
            report(spec.line_of(name), f"unknown limit {name!r}")
        elif not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 600:
            report(spec.line_of(name), f"limit {name!r} must be a whole number from 1 to 600")
        else:
            values[str(name)] = value
    return Limits(**values)


def _system_prompts(data: LineDict, report: fields.Report) -> dict[str, str]:
    spec = fields.mapping(data, "system_prompts", report)
    found: dict[str, str] = {}
    for name, value in spec.items():
        if not isinstance(value, str) or not value:
            report(spec.line_of(name), f"system prompt {name!r} must name a prompt, not {kind_of(value)}")
            continue
        found[str(name)] = value
    return found


def _nodes(data: LineDict, problem: Found) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    specs = data.get("nodes")
    if not isinstance(specs, LineDict) or not specs:
        shown = "" if specs is None or isinstance(specs, LineDict) else f", not {kind_of(specs)}"
        problem(data.line_of("nodes"), None, f"'nodes' must be a mapping of at least one node{shown}")
        return nodes
    for nid, spec in specs.items():
        node = _parse_node(str(nid), spec, specs.line_of(nid), problem)
        if node:
            nodes[node.id] = node
    return nodes


def _parse_node(nid: str, spec: Any, line: int | None, problem: Found) -> Node | None:
    def report(at: int | None, reason: str) -> None:
        problem(at, nid, reason)

    if not isinstance(spec, LineDict):
        report(line, f"a node must be a mapping with a 'kind', not {kind_of(spec)}")
        return None
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        shown = repr(kind) if isinstance(kind, str) else kind_of(kind)
        report(
            spec.line_of("kind") if "kind" in spec else line, f"kind {shown} is not one of {', '.join(KINDS)}"
        )
        return None
    for extra in sorted(set(spec) - set(NODE_FIELDS), key=str):
        report(spec.line_of(extra), f"unknown field {extra!r}")
    return Node(
        id=nid,
        kind=kind,
        say=_prompt_list(spec, "say", report) or (),
        options=_options(spec, line, report),
        next=fields.text(spec, "next", report, "a node id"),
        contact=fields.text(spec, "contact", report, "a contact id"),
        on_answered=fields.text(spec, "on_answered", report, "a node id"),
        on_failed=fields.text(spec, "on_failed", report, "a node id"),
        failed_say=_prompt_list(spec, "failed_say", report) or (),
        back=fields.text(spec, "back", report, "a node id"),
        line=line,
    )


def _options(spec: LineDict, line: int | None, report: fields.Report) -> tuple[Option, ...]:
    specs = spec.get("options")
    if specs is None:
        return ()
    if not isinstance(specs, LineDict):
        report(spec.line_of("options"), f"'options' must map keys to {{say, goto}}, not {kind_of(specs)}")
        return ()
    options: list[Option] = []
    for key, ospec in specs.items():
        oline = specs.line_of(key)
        name = fields.phone_key(key)
        if name is None:
            report(oline, f"option {key!r} is not a phone key: 0-9, * or #")
            continue
        if (
            not isinstance(ospec, LineDict)
            or not isinstance(ospec.get("say"), str)
            or not isinstance(ospec.get("goto"), str)
        ):
            report(oline, f"option {key!r} needs 'say' (a prompt id) and 'goto' (a node id)")
            continue
        fields.unknown(ospec, OPTION_FIELDS, report, f"option {name}: ")
        lang = fields.text(ospec, "lang", report, "a language code", f"option {name}: ")
        options.append(Option(name, ospec["say"], ospec["goto"], oline, lang))
    return tuple(options)


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


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _prompt_list(spec: LineDict, key: str, report: fields.Report) -> tuple[str, ...] | None:
    """Return the prompt ids under `key` (a list, or one id); None, reported, for anything else."""
    value = spec.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        report(spec.line_of(key), f"'{key}' must be a list of prompt ids, not {_list_kind(value)}")
        return None
    return tuple(value)


def _list_kind(value: Any) -> str:
    if isinstance(value, list):
        wrong = next((v for v in value if not isinstance(v, str) or not v), None)
        return f"a list holding {kind_of(wrong)}"
    return kind_of(value)
