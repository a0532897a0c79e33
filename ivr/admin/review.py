"""Flow review for admins: the live flow as a diagram and as an outline, with its problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Response, render_template, request

from ..flow import Flow, Node
from ..flow.catalogue import PLACEHOLDER
from ..flow.queries import declared_languages
from ..services import services
from . import diagram
from .console import bp, require

KIND_WORDS = {
    "menu": "Menu: waits for a key",
    "message": "Message",
    "transfer": "Transfer: connects the caller",
    "end": "Ending: the call ends",
    "language": "Language menu: the key chooses the language",
}
ACTION_WORDS = {"repeat": "hear this again", "back": "go back", "slow": "slower speech, or normal again"}


@dataclass
class Way:
    """One way on from a step, as the outline says it."""

    how: str
    target: str
    text: str = ""
    lang: str = ""


@dataclass
class Step:
    """One node of the outline: what the caller hears, and where each key leads."""

    id: str
    kind: str
    says: list[tuple[str, str]]
    ways: list[Way] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def readable(flow: Flow, prompt_id: str, lang: str) -> str:
    """Return a prompt's text with each number in its published grouping, or a note that it is missing."""
    if not flow.catalogue.has(prompt_id, lang):
        return f"(no text for {prompt_id} in {lang})"
    spoken = flow.catalogue.spoken
    raw = flow.catalogue.raw(prompt_id, lang)
    return " ".join(PLACEHOLDER.sub(lambda m: spoken.get(m.group(1), m.group(0)), raw).split())


def outline(flow: Flow, lang: str) -> list[Step]:
    """Describe every node in the order a caller meets them."""
    steps = []
    for nid in diagram.order(flow):
        node = flow.nodes[nid]
        steps.append(_step(flow, node, lang))
    return steps


def _step(flow: Flow, node: Node, lang: str) -> Step:
    step = Step(node.id, node.kind, [(pid, readable(flow, pid, lang)) for pid in node.say])
    for option in node.options:
        chosen = getattr(option, "lang", None)
        if chosen:
            # A language menu reads each choice in the language it chooses.
            text = readable(flow, option.say, chosen)
            step.ways.append(Way(f"Key {option.key}: {chosen}", option.goto, text, chosen))
        else:
            step.ways.append(Way(f"Key {option.key}", option.goto, readable(flow, option.say, lang)))
    if node.next:
        seconds = flow.limits.pass_timeout
        step.ways.append(Way(f"Then, after {seconds} s without a key", node.next))
    if node.kind == "transfer":
        contact = flow.contacts.get(node.contact or "")
        if contact:
            step.notes.append(f"Dials {contact.name} on {contact.spoken} ({contact.e164}).")
        if node.on_answered:
            step.ways.append(Way("When the call with them ends", node.on_answered))
        if node.on_failed:
            failed = " ".join(readable(flow, pid, lang) for pid in node.failed_say)
            step.ways.append(Way("If nobody answers (busy, no answer, failed)", node.on_failed, failed))
    if node.kind in ("menu", "language") or (node.kind == "message" and node.options):
        step.notes.append(
            f"Silence for {flow.limits.gather_timeout} s: asked again; after {flow.limits.silences} "
            f"silences or {flow.limits.invalid_keys} wrong keys the call goes to {flow.on_limit}."
        )
    if node.back and node.back != node.id:
        step.notes.append(f"Hash (#) goes back to {node.back}.")
    return step


def _language(flow: Flow) -> str:
    lang = request.args.get("lang", "")
    return lang if lang in declared_languages(flow) else flow.default_language


@bp.get("/flow")
@require("admin")
def flow() -> str:
    """Show the live flow: diagram, outline in a chosen language, problems and version."""
    live_flow = services().live
    current = live_flow.current().flow
    lang = _language(current)
    return render_template(
        "admin/flow.html",
        flow=current,
        languages=declared_languages(current),
        lang=lang,
        steps=outline(current, lang),
        svg=diagram.svg(current),
        problems=live_flow.problems,
        measured=live_flow.verdict(current).problems,
        globals=_global_keys(current, lang),
        kinds=KIND_WORDS,
    )


@bp.get("/flow.svg")
@require("admin")
def flow_svg() -> Response:
    """Serve the diagram alone, to save or print."""
    return Response(diagram.svg(services().live.current().flow), mimetype="image/svg+xml")


def _global_keys(flow: Flow, lang: str) -> list[tuple[str, str]]:
    return [
        (key, ACTION_WORDS.get(g.action, f"go to {g.node}")) for key, g in sorted(flow.global_keys.items())
    ]
