"""The call flow as a server-rendered SVG: columns by distance from the start, edges by key."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from markupsafe import escape

from ..flow import Flow, Node

BOX_W, BOX_H = 180, 46
COL_W, ROW_H = 250, 92
MARGIN_X, MARGIN_Y = 20, 90
# Fill, stroke and the word shown under the id; presentation attributes so the file stands alone.
KIND_STYLE = {
    "menu": ("#dbeafe", "#1d4ed8", "menu"),
    "message": ("#f3f4f6", "#4b5563", "message"),
    "transfer": ("#dcfce7", "#15803d", "transfer"),
    "end": ("#fee2e2", "#b91c1c", "ends the call"),
    "language": ("#fef3c7", "#b45309", "language menu"),
}


@dataclass(frozen=True)
class Edge:
    """One way out of a node: where it goes and the label on the arrow."""

    source: str
    target: str
    label: str
    detail: str = ""


def order(flow: Flow) -> list[str]:
    """Return node ids in the order a caller meets them from the start; unreachable ones last."""
    seen = [flow.start] if flow.start in flow.nodes else []
    queue = deque(seen)
    while queue:
        node = flow.nodes[queue.popleft()]
        for target in node.targets():
            if target in flow.nodes and target not in seen:
                seen.append(target)
                queue.append(target)
    return seen + [nid for nid in flow.nodes if nid not in seen]


def edges(flow: Flow) -> list[Edge]:
    """Return every arrow: menu keys, 'then' for a message that goes on, transfer outcomes.

    Keys of one node that lead to the same place share one arrow ("keys 2,3,4"), the languages
    they choose, if any, in its detail.
    """
    found: list[Edge] = []
    for node in flow.nodes.values():
        by_target: dict[str, list[tuple[str, str | None]]] = {}
        for o in node.options:
            by_target.setdefault(o.goto, []).append((o.key, getattr(o, "lang", None)))
        for target, keys in by_target.items():
            label = ("key " if len(keys) == 1 else "keys ") + ",".join(k for k, _ in keys)
            detail = ", ".join(f"{k}: {lang}" for k, lang in keys if lang)
            found.append(Edge(node.id, target, label, detail))
        if node.next:
            found.append(Edge(node.id, node.next, "then"))
        if node.on_answered:
            found.append(Edge(node.id, node.on_answered, "answered"))
        if node.on_failed:
            found.append(Edge(node.id, node.on_failed, "not answered"))
    return [e for e in found if e.target in flow.nodes]


def layout(flow: Flow) -> dict[str, tuple[int, int]]:
    """Place each node: its column is its distance from the start, unreachable nodes in the last."""
    depth = {flow.start: 0} if flow.start in flow.nodes else {}
    queue = deque(depth)
    while queue:
        current = queue.popleft()
        for target in flow.nodes[current].targets():
            if target in flow.nodes and target not in depth:
                depth[target] = depth[current] + 1
                queue.append(target)
    last = max(depth.values(), default=-1) + 1
    rows: dict[int, int] = {}
    places = {}
    for nid in order(flow):
        column = depth.get(nid, last)
        row = rows.get(column, 0)
        rows[column] = row + 1
        places[nid] = (MARGIN_X + column * COL_W, MARGIN_Y + row * ROW_H)
    return places


def svg(flow: Flow) -> str:
    """Draw the flow: nodes shaped and coloured by kind, arrows labelled, transfers and endings marked."""
    places = layout(flow)
    width = max((x for x, _ in places.values()), default=0) + BOX_W + 2 * MARGIN_X
    height = max((y for _, y in places.values()), default=0) + BOX_H + MARGIN_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="flow-title flow-desc" class="flow-diagram" '
        'font-family="sans-serif" font-size="13">',
        '<title id="flow-title">Call flow diagram</title>',
        f'<desc id="flow-desc">{len(flow.nodes)} steps from {escape(flow.start)}; '
        "the outline on this page says the same in words.</desc>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#374151"/>'
        "</marker></defs>",
        _legend(flow),
    ]
    slots: dict[str, int] = {}
    for edge in edges(flow):
        backward = places[edge.target][0] <= places[edge.source][0]
        slot = slots.get(edge.source, 0)
        parts.append(_edge(edge, places, slot))
        if backward:
            slots[edge.source] = slot + 1
    for nid in order(flow):
        parts.append(_node(flow.nodes[nid], places[nid], flow))
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(flow: Flow) -> str:
    keys = []
    for key, gkey in flow.global_keys.items():
        meaning = {"repeat": "hear again", "back": "go back", "slow": "slower speech"}.get(
            gkey.action, f"go to {gkey.node}"
        )
        keys.append(f"{key}: {meaning}")
    line1 = "Keys in every menu: " + " · ".join(keys)
    line2 = f"Too many silences or wrong keys: go to {flow.on_limit}"
    items = [
        f'<text x="{MARGIN_X}" y="22" font-weight="bold">{escape(line1)}</text>',
        f'<text x="{MARGIN_X}" y="40">{escape(line2)}</text>',
    ]
    x = MARGIN_X
    for fill, stroke, word in KIND_STYLE.values():
        items.append(
            f'<rect x="{x}" y="52" width="14" height="14" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + 20}" y="64">{escape(word)}</text>'
        )
        x += 40 + 8 * len(word)
    return '<g class="legend">' + "".join(items) + "</g>"


def _edge(edge: Edge, places: dict[str, tuple[int, int]], slot: int) -> str:
    sx, sy = places[edge.source]
    tx, ty = places[edge.target]
    label = escape(edge.label)
    head = (
        f'<g class="edge" data-from="{escape(edge.source)}" data-to="{escape(edge.target)}">'
        f"<title>{escape(edge.source)} → {escape(edge.target)}: {label}"
        f"{' (' + escape(edge.detail) + ')' if edge.detail else ''}</title>"
    )
    if tx <= sx:
        # Back to an earlier column (or the same one): written under the box, not drawn across the page.
        y = sy + BOX_H + 13 + 13 * slot
        return (
            f'{head}<text x="{sx + 6}" y="{y}" font-size="11" fill="#374151">'
            f"{label} → {escape(edge.target)}</text></g>"
        )
    x1, y1 = sx + BOX_W, sy + BOX_H / 2
    x2, y2 = tx, ty + BOX_H / 2
    bend = (x2 - x1) / 2
    d = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
    # The label sits on the curve's midpoint, with a white halo so crossing lines do not hide it.
    lx, ly = (x1 + x2) / 2, (y1 + y2) / 2 + 4
    return (
        f'{head}<path d="{d}" fill="none" stroke="#374151" stroke-width="1.4" marker-end="url(#arrow)"/>'
        f'<text x="{lx:.0f}" y="{ly:.0f}" font-size="11" fill="#111827" text-anchor="middle" '
        f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{label}</text></g>'
    )


def _node(node: Node, place: tuple[int, int], flow: Flow) -> str:
    x, y = place
    fill, stroke, word = KIND_STYLE.get(node.kind, ("#ffffff", "#000000", node.kind))
    rx = 16 if node.kind == "message" else 4
    extra = ""
    if node.kind == "transfer":
        contact = flow.contacts.get(node.contact or "")
        word = f"transfer to {contact.name.split(',')[0]}" if contact else word
        extra = (
            f'<rect x="{x + 4}" y="{y + 4}" width="{BOX_W - 8}" height="{BOX_H - 8}" rx="2" '
            f'fill="none" stroke="{stroke}"/>'
        )
    elif node.kind == "end":
        extra = f'<rect x="{x}" y="{y}" width="8" height="{BOX_H}" fill="{stroke}"/>'
    start = " (start)" if node.id == flow.start else ""
    return (
        f'<g class="node kind-{escape(node.kind)}" id="svg-{escape(node.id)}">'
        f"<title>{escape(node.id)}: {escape(word)}{start}</title>"
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="{rx}" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{3 if start else 1.5}"/>{extra}'
        f'<text x="{x + BOX_W / 2:.0f}" y="{y + 19}" text-anchor="middle" font-weight="bold">'
        f"{escape(node.id)}{start}</text>"
        f'<text x="{x + BOX_W / 2:.0f}" y="{y + 36}" text-anchor="middle" font-size="11">'
        f"{escape(word)}</text></g>"
    )
