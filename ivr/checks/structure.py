"""The structural rules: references resolve, menus are numbered and short, every node is
reachable, numbers are dialable and never an emergency number, the greeting gives the 999 advice."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator

from ..flow import Flow, Node, Problem, display
from ..flow.catalogue import placeholders
from ..flow.queries import advice_end, prompt_uses, says_999, seconds_until
from .rules import rule

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMERGENCY_NUMBERS = ("999", "112", "911")
MAX_OPTIONS = 4
GREETING_BUDGET_SECONDS = 15.0


At = Callable[[int | None, str | None, str], Problem]


def _at(flow: Flow) -> At:
    fname = display(flow.path)
    return lambda line, node, reason: Problem(fname, line, node, reason)


@rule
def references(flow: Flow) -> Iterator[Problem]:
    """The start, the limit node, system prompts, the default language and global keys all exist."""
    at = _at(flow)
    nodes = flow.nodes
    for name, target in (("start", flow.start), ("on_limit", flow.on_limit)):
        if target not in nodes:
            yield at(None, None, f"'{name}' names unknown node {target!r}")
    for name in ("invalid", "silence", "silence_last"):
        if name not in flow.system_prompts:
            yield at(None, None, f"'system_prompts' needs {name!r}")
    if flow.default_language not in flow.voices:
        yield at(None, None, f"default language {flow.default_language!r} has no entry in 'languages'")
    for code in flow.voices:
        if code not in flow.catalogue.languages:
            yield at(None, None, f"language {code!r} has no catalogue prompts/{code}.yaml")
    for key, gkey in flow.global_keys.items():
        # A goto with no node at all is a problem parsing reports.
        if gkey.action == "goto" and gkey.node is not None and gkey.node not in nodes:
            yield at(None, None, f"global key {key!r} goes to unknown node {gkey.node!r}")


@rule
def nodes(flow: Flow) -> Iterator[Problem]:
    """Every node is complete for its kind, with options numbered 1..n, at most four."""
    at = _at(flow)
    for node in flow.nodes.values():
        yield from _node_problems(flow, node, at)


@rule
def contacts(flow: Flow) -> Iterator[Problem]:
    """Every number is digits in groups, a valid E.164 of the same number, never an emergency number."""
    yield from _contact_problems(flow, _at(flow))


@rule
def prompts(flow: Flow) -> Iterator[Problem]:
    """Every prompt exists in the default language, reads known numbers, and options are goal first."""
    yield from _prompt_problems(flow, display(flow.path))


@rule
def reachability(flow: Flow) -> Iterator[Problem]:
    """Every node can be reached from the start."""
    yield from _reachability(flow, _at(flow))


@rule
def greeting(flow: Flow) -> Iterator[Problem]:
    """The greeting gives the 999 advice within its budget, for every caller."""
    yield from _greeting_problems(flow, _at(flow))


def _node_problems(flow: Flow, node: Node, at: At) -> Iterator[Problem]:
    nid, line = node.id, node.line
    for target in node.targets() + ([node.back] if node.back else []):
        if target not in flow.nodes:
            yield at(line, nid, f"leads to unknown node {target!r}")
    if node.kind == "menu" and not node.options:
        yield at(line, nid, "a menu with no options is a dead end")
    if node.kind == "message":
        if not node.options and not node.next:
            yield at(line, nid, "a message needs follow-up 'options' or a 'next' node: it is a dead end")
        if node.options and node.next:
            yield at(line, nid, "a message has either 'options' or 'next', not both")
    if node.kind == "transfer":
        for field in ("contact", "on_answered", "on_failed"):
            if not getattr(node, field):
                yield at(line, nid, f"a transfer needs '{field}'")
        if node.options or node.next:
            yield at(line, nid, "a transfer has no options or 'next': it goes on by the call's outcome")
        contact = flow.contacts.get(node.contact or "")
        if node.contact and contact is None:
            yield at(line, nid, f"transfers to unknown contact {node.contact!r}")
        elif contact and not contact.e164:
            yield at(line, nid, f"contact {contact.id!r} has no e164 number to dial")
    elif node.contact or node.on_answered or node.on_failed or node.failed_say:
        yield at(line, nid, "only a transfer has 'contact', 'on_answered', 'on_failed' or 'failed_say'")
    if node.kind == "end" and (node.options or node.next):
        yield at(line, nid, "an end hangs up: it has no options or 'next'")
    if not node.say and node.kind not in ("transfer", "language"):
        yield at(line, nid, "says nothing: give it 'say'")

    keys = [o.key for o in node.options]
    if len(keys) > MAX_OPTIONS and node.kind != "language":  # the language menu has its own limit
        yield at(line, nid, f"has {len(keys)} options; at most {MAX_OPTIONS} are easy to remember")
    expected = [str(n) for n in range(1, len(keys) + 1)]
    if sorted(keys, key=lambda k: (len(k), k)) != expected:
        yield at(line, nid, f"options must be numbered 1 to {len(keys)} without gaps, not {', '.join(keys)}")
    for option in node.options:
        if option.key in flow.global_keys:
            yield at(option.line, nid, f"key {option.key!r} is a global key and cannot be an option")


def _contact_problems(flow: Flow, at: At) -> Iterator[Problem]:
    for contact in flow.contacts.values():
        digits = re.sub(r"\s", "", contact.spoken)
        if not digits.isdigit():
            yield at(
                contact.line,
                None,
                f"contact {contact.id!r}: spoken {contact.spoken!r} must be digits in groups",
            )
        if contact.e164 is None:
            continue
        if not E164.match(contact.e164):
            yield at(
                contact.line, None, f"contact {contact.id!r}: {contact.e164!r} is not a valid E.164 number"
            )
        elif digits.startswith("0") and not contact.e164.endswith(digits[1:]):
            yield at(
                contact.line,
                None,
                f"contact {contact.id!r}: {contact.e164} is not the number {contact.spoken}",
            )
        if any(contact.e164.endswith(n) and len(contact.e164) <= len(n) + 4 for n in EMERGENCY_NUMBERS):
            yield at(contact.line, None, f"contact {contact.id!r}: the line never dials an emergency number")


def _used_prompts(flow: Flow) -> Iterator[tuple[str, Node | None, int | None]]:
    for use in prompt_uses(flow):
        yield use.prompt_id, flow.nodes.get(use.node) if use.node else None, use.line


def _prompt_problems(flow: Flow, fname: str) -> Iterator[Problem]:
    catalogue = flow.catalogue
    reported: set[tuple[str, str]] = set()
    for lang in flow.voices:
        language = catalogue.languages.get(lang)
        if language is None:
            continue
        for pid, node, line in _used_prompts(flow):
            # Another language missing a prompt is not offered (`ivr check` says so); not a fault.
            if lang == flow.default_language and not catalogue.has(pid, lang) and (pid, lang) not in reported:
                reported.add((pid, lang))
                yield Problem(
                    fname, line, node.id if node else None, f"prompt {pid!r} is missing from {lang}"
                )
        lfile = display(language.path)
        for pid, text in language.texts.items():
            for name in placeholders(text):
                if name not in flow.contacts:
                    yield Problem(
                        lfile,
                        language.lines.get(pid),
                        None,
                        f"prompt {pid!r} reads unknown number {{{name}}}",
                    )
        if not language.option_pattern:
            continue
        for node in flow.nodes.values():
            for option in node.options if node.kind != "language" else ():
                if not catalogue.has(option.say, lang):
                    continue
                pattern = language.option_pattern.replace("{key}", re.escape(option.key))
                text = catalogue.text(option.say, lang)
                if not re.fullmatch(pattern, text):
                    yield Problem(
                        lfile,
                        language.lines.get(option.say),
                        node.id,
                        f"option {option.key} ({option.say!r}) is not goal first with its own key: {text!r}",
                    )


def _reachability(flow: Flow, at: At) -> Iterator[Problem]:
    roots = [flow.start, flow.on_limit] + [k.node for k in flow.global_keys.values() if k.node]
    seen: set[str] = set()
    queue = deque(r for r in roots if r in flow.nodes)
    while queue:
        nid = queue.popleft()
        if nid in seen:
            continue
        seen.add(nid)
        queue.extend(t for t in flow.nodes[nid].targets() if t in flow.nodes)
    for nid, node in flow.nodes.items():
        if nid not in seen:
            yield at(node.line, nid, "cannot be reached from the start")


def _greeting_problems(flow: Flow, at: At) -> Iterator[Problem]:
    start = flow.nodes.get(flow.start)
    if start is None:
        return
    if flow.emergency_prompt not in start.say:
        yield at(start.line, start.id, f"the greeting must give the 999 advice ({flow.emergency_prompt!r})")
        return
    lang = flow.default_language  # the greeting is in the default language for every caller
    if not all(flow.catalogue.has(pid, lang) for pid in start.say):
        return
    if not says_999(flow.catalogue.text(flow.emergency_prompt, lang)):
        return  # the accessibility rules say so, for every language, with the line
    seconds = seconds_to_emergency(flow)
    if seconds is not None and seconds > GREETING_BUDGET_SECONDS:
        yield at(
            start.line,
            start.id,
            f"{lang}: the 999 advice ends {seconds:.0f} s into the greeting; "
            f"it must end within {GREETING_BUDGET_SECONDS:.0f} s",
        )


def seconds_to_emergency(flow: Flow) -> float | None:
    """Return the seconds of greeting speech until the 999 advice (the Silent Solution too) has ended."""
    lang = flow.default_language
    heard = [(pid, lang) for pid in flow.nodes[flow.start].say if flow.catalogue.has(pid, lang)]
    return seconds_until(flow, heard, advice_end(flow, heard, lang))
