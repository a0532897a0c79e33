"""Server-side SVG charts of journey figures: pure functions returning SVG text, every label escaped.

charts.svg_funnel(figs)      # reach and drop-off per node
charts.svg_flow(figs)        # the paths callers take
charts.svg_calls_per_day(figs)
charts.svg_menus(figs)       # keys, wrong keys and silences per menu
charts.svg_bars(figs.transfer_outcomes.items(), title="Transfer outcomes")
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from .report import Figures

FONT = 'font-family="system-ui, sans-serif" font-size="12"'
BAR = "#3465a4"
ENDED = "#cc0000"
EDGE = "#75507b"
WRONG = "#f57900"
SILENT = "#888a85"


def _t(value: object) -> str:
    """Escape text for an SVG element or attribute."""
    return escape(str(value), quote=True)


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_t(title)}" {FONT}>'
        f"<title>{_t(title)}</title>" + "".join(body) + "</svg>"
    )


def _empty(title: str, width: int) -> str:
    return _svg(width, 40, title, [f'<text x="8" y="24" fill="#555">{_t(title)}: no calls yet</text>'])


def svg_bars(items: Iterable[tuple[str, float]], title: str = "", width: int = 560, unit: str = "") -> str:
    """Draw horizontal bars, one a label, with the value written at the end of each."""
    rows = [(str(label), float(value)) for label, value in items]
    if not rows:
        return _empty(title, width)
    label_w = min(220, 20 + 8 * max(len(label) for label, _ in rows))
    bar_w = width - label_w - 70
    top = max(value for _, value in rows) or 1.0
    body = [f'<text x="8" y="16" font-weight="bold">{_t(title)}</text>']
    for i, (label, value) in enumerate(rows):
        y = 28 + i * 24
        length = max(1.0, bar_w * value / top) if value else 0.0
        shown = f"{value:g}{unit}"
        body.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_t(label)}</text>')
        body.append(f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="18" fill="{BAR}"/>')
        body.append(f'<text x="{label_w + length + 6:.1f}" y="{y + 13}">{_t(shown)}</text>')
    return _svg(width, 36 + 24 * len(rows), title, body)


def svg_funnel(figs: Figures, width: int = 720) -> str:
    """Draw how many calls reached each node (blue) and how many ended there (red), with counts."""
    title = "Calls reaching each node, and ending there"
    if not figs.nodes:
        return _empty(title, width)
    label_w = min(240, 20 + 8 * max(len(n.node) for n in figs.nodes))
    bar_w = width - label_w - 190
    body = [f'<text x="8" y="16" font-weight="bold">{_t(title)} ({figs.calls} calls)</text>']
    for i, n in enumerate(figs.nodes):
        y = 28 + i * 26
        reached = bar_w * figs.share(n.reached)
        ended = bar_w * figs.share(n.ended)
        body.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_t(n.node)}</text>')
        body.append(
            f'<rect x="{label_w}" y="{y}" width="{max(reached, 1):.1f}" height="20" fill="{BAR}">'
            f"<title>{_t(n.node)}: {n.reached} calls reached it</title></rect>"
        )
        if n.ended:
            body.append(
                f'<rect x="{label_w}" y="{y + 14}" width="{max(ended, 1):.1f}" height="6" fill="{ENDED}">'
                f"<title>{_t(n.node)}: {n.ended} calls ended here</title></rect>"
            )
        text = f"{n.reached} ({100 * figs.share(n.reached):.0f}%), ended here {n.ended}"
        body.append(f'<text x="{label_w + reached + 6:.1f}" y="{y + 14}">{_t(text)}</text>')
    return _svg(width, 36 + 26 * len(figs.nodes), title, body)


def svg_menus(figs: Figures, width: int = 720) -> str:
    """Draw each menu's presses: option keys (blue), wrong keys (orange), silences (grey), with counts."""
    title = "Keys per menu: wrong keys and silences show menus that confuse callers"
    if not figs.menus:
        return _empty(title, width)
    label_w = min(240, 20 + 8 * max(len(m.node) for m in figs.menus))
    bar_w = width - label_w - 230
    top = max(m.presses + m.silences for m in figs.menus) or 1
    body = [f'<text x="8" y="16" font-weight="bold">{_t(title)}</text>']
    for i, menu in enumerate(figs.menus):
        y = 28 + i * 26
        x = float(label_w)
        body.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{_t(menu.node)}</text>')
        parts = (
            ("option keys", sum(menu.keys.values()), BAR),
            ("wrong keys", sum(menu.invalid.values()), WRONG),
            ("silences", menu.silences, SILENT),
        )
        for name, count, colour in parts:
            if not count:
                continue
            length = bar_w * count / top
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="20" fill="{colour}">'
                f"<title>{_t(menu.node)}: {count} {name}</title></rect>"
            )
            x += length
        keys = " ".join(f"{k}:{v}" for k, v in sorted(menu.keys.items()))
        text = f"{keys or '-'} | wrong {sum(menu.invalid.values())} | silent {menu.silences}"
        body.append(f'<text x="{x + 6:.1f}" y="{y + 14}">{_t(text)}</text>')
    return _svg(width, 36 + 26 * len(figs.menus), title, body)


def svg_calls_per_day(figs: Figures, width: int = 720, height: int = 200) -> str:
    """Draw calls per day as columns, the count above each."""
    title = "Calls per day"
    days = figs.calls_per_day
    if not days:
        return _empty(title, width)
    top = max(count for _, count in days) or 1
    plot_h = height - 60
    step = min((width - 40) / len(days), 60.0)
    body = [f'<text x="8" y="16" font-weight="bold">{_t(title)}</text>']
    for i, (day, count) in enumerate(days):
        x = 20 + i * step
        h = plot_h * count / top
        y = 30 + plot_h - h
        body.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="{BAR}"><title>{_t(day.isoformat())}: {count} calls</title></rect>'
        )
        if step >= 18:
            body.append(f'<text x="{x + step / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{count}</text>')
        if i == 0 or i == len(days) - 1 or (step >= 60):
            body.append(
                f'<text x="{x + step / 2:.1f}" y="{height - 12}" text-anchor="middle">'
                f"{_t(day.strftime('%d %b'))}</text>"
            )
    return _svg(width, height, title, body)


def _layers(figs: Figures) -> dict[str, int]:
    """Place each node in a column: its distance in moves from the first node callers reach."""
    nodes = [n.node for n in figs.nodes]
    if not nodes:
        return {}
    nexts: dict[str, list[str]] = {}
    for a, b, _ in figs.edges:
        nexts.setdefault(a, []).append(b)
    depth = {nodes[0]: 0}
    frontier = [nodes[0]]
    while frontier:
        following = []
        for node in frontier:
            for target in nexts.get(node, []):
                if target not in depth:
                    depth[target] = depth[node] + 1
                    following.append(target)
        frontier = following
    deepest = max(depth.values())
    return {node: depth.get(node, deepest + 1) for node in nodes}


def svg_flow(figs: Figures, max_edges: int = 40) -> str:
    """Draw the flow callers took: nodes in columns by depth, moves as curves labelled with counts."""
    title = "How callers moved between nodes"
    layer = _layers(figs)
    if not layer:
        return _empty(title, 720)
    box_w, box_h, col_w, row_h = 150, 30, 230, 48
    columns: dict[int, list[str]] = {}
    for n in figs.nodes:
        columns.setdefault(layer[n.node], []).append(n.node)
    where: dict[str, tuple[float, float]] = {}
    for col, names in columns.items():
        for row, name in enumerate(names):
            where[name] = (20 + col * col_w, 34 + row * row_h)
    width = 40 + (max(columns) + 1) * col_w
    height = 50 + max(len(names) for names in columns.values()) * row_h
    edges = figs.edges[:max_edges]
    heaviest = max((count for *_, count in edges), default=1)
    reached = {n.node: n.reached for n in figs.nodes}
    body = [f'<text x="8" y="16" font-weight="bold">{_t(title)}</text>']
    for a, b, count in edges:
        if a not in where or b not in where:
            continue
        (ax, ay), (bx, by) = where[a], where[b]
        x1, y1 = ax + box_w, ay + box_h / 2
        x2, y2 = bx, by + box_h / 2
        if bx == ax:  # a move within a column bulges out to the right of the boxes
            x1 = x2 = ax + box_w
            bulge = x1 + 30 + 8 * abs(by - ay) / row_h
            path = f"M{x1:.0f},{y1:.0f} C{bulge:.0f},{y1:.0f} {bulge:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            mx, my = bulge - 4, (y1 + y2) / 2 + 4
        elif bx < ax:  # a move back to an earlier column loops under the boxes
            x1, y1, x2, y2 = ax + box_w / 2, ay + box_h, bx + box_w / 2, by + box_h
            bend = max(ay, by) + box_h + 24
            path = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{bend:.0f} {x2:.0f},{bend:.0f} {x2:.0f},{y2:.0f}"
            mx, my = (x1 + x2) / 2, bend - 4
        else:
            mid = (x1 + x2) / 2
            path = f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            mx, my = mid, (y1 + y2) / 2 - 3
        stroke = 1 + 7 * count / heaviest
        body.append(
            f'<path d="{path}" fill="none" stroke="{EDGE}" stroke-opacity="0.45" '
            f'stroke-width="{stroke:.1f}"><title>{_t(a)} to {_t(b)}: {count}</title></path>'
        )
        body.append(f'<text x="{mx:.0f}" y="{my:.0f}" text-anchor="middle" fill="{EDGE}">{count}</text>')
    for name, (x, y) in where.items():
        body.append(
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4" fill="#eef" stroke="{BAR}"/>'
        )
        body.append(
            f'<text x="{x + box_w / 2}" y="{y + 19}" text-anchor="middle">'
            f"{_t(name[:20])} ({reached.get(name, 0)})</text>"
        )
    return _svg(width, height, title, body)
