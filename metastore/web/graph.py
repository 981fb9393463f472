"""A workflow's graph drawn on the server as inline SVG: triggers → the jobs and crawlers they start →
the conditional triggers watching those → ..., in columns from left to right; a long chain wraps into
bands of at most MAX_COLUMNS columns, one under the other, so that the drawing fits the console's width.
Job and crawler nodes are coloured by their state in one workflow run; triggers by their type.
"""

from __future__ import annotations

from html import escape

from metastore.catalog.triggers import Trigger

STATE_COLORS = {
    "SUCCEEDED": "#c8e6c9", "FAILED": "#ffcdd2", "ERROR": "#ffcdd2", "TIMEOUT": "#ffe0b2",
    "STOPPED": "#e0e0e0", "CANCELLED": "#e0e0e0", "RUNNING": "#bbdefb", "STARTING": "#bbdefb",
    "STOPPING": "#bbdefb", "WAITING": "#fff9c4",
}  # fmt: skip
TRIGGER_COLOR = "#ede7f6"
NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 170, 44, 60, 18, 12
BAND_GAP = 44  # between two bands of columns
MAX_COLUMNS = 5  # per band: 5 × (170 + 60) − 60 + 2 × 12 = 1114 px, inside the console's 1200 px column


def layout(triggers: list[Trigger]) -> tuple[dict[tuple[str, str], int], list[tuple[tuple, tuple]]]:
    """Nodes ("trigger"|"job"|"crawler", name) with their column, and the edges between them. A node's
    column is one more than the deepest node leading to it (bounded, so cycles end)."""
    edges = []
    for t in triggers:
        for c in t.conditions:
            edges.append(((("job", c.job) if c.job else ("crawler", c.crawler)), ("trigger", t.name)))
        for a in t.actions:
            edges.append((("trigger", t.name), ("job", a.job) if a.job else ("crawler", a.crawler)))
    nodes = {("trigger", t.name): 0 for t in triggers}
    for a, b in edges:
        nodes.setdefault(a, 0)
        nodes.setdefault(b, 0)
    for _ in range(len(nodes)):
        changed = False
        for a, b in edges:
            if nodes[b] < nodes[a] + 1 <= len(nodes):
                nodes[b] = nodes[a] + 1
                changed = True
        if not changed:
            break
    return nodes, edges


def workflow_svg(
    triggers: list[Trigger], states: dict[tuple[str, str], str | None], links: dict | None = None
) -> str:
    """The graph of `triggers` with job/crawler nodes coloured by `states` ((kind, name) → state or None);
    `links` maps nodes to URLs."""
    if not triggers:
        return '<p class="muted">No triggers name this workflow yet: its graph is empty.</p>'
    nodes, edges = layout(triggers)
    columns: dict[int, list] = {}
    for node, col in sorted(nodes.items(), key=lambda x: (x[1], x[0][0] != "trigger", x[0][1])):
        columns.setdefault(col, []).append(node)
    per_band = min(MAX_COLUMNS, max(columns) + 1)
    band_rows = max(len(m) for m in columns.values())
    band_h = band_rows * (NODE_H + ROW_GAP) - ROW_GAP + BAND_GAP
    pos, band_of = {}, {}
    for col, members in columns.items():
        band, x_col = divmod(col, per_band)
        for row, node in enumerate(members):
            band_of[node] = band
            pos[node] = (PAD + x_col * (NODE_W + COL_GAP), PAD + band * band_h + row * (NODE_H + ROW_GAP))
    bands = max(columns) // per_band + 1
    width = PAD * 2 + per_band * (NODE_W + COL_GAP) - COL_GAP
    height = PAD * 2 + bands * band_h - BAND_GAP
    kinds = {t.name: t.trigger_type for t in triggers}
    out = [f'<svg class="graph" id="workflow-graph" role="img" aria-label="Workflow graph" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#78909c"/></marker></defs>']  # fmt: skip
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        if band_of[b] > band_of[a]:  # onto the next band: from the bottom of one to the top of the other
            sx, sy, ex, ey = x1 + NODE_W / 2, y1 + NODE_H, x2 + NODE_W / 2, y2
            out.append(f'<path d="M{sx},{sy} C{sx},{sy + BAND_GAP} {ex},{ey - BAND_GAP} {ex},{ey}" fill="none" '
                       'stroke="#78909c" marker-end="url(#arrow)"/>')  # fmt: skip
        elif ex <= sx:  # a back edge (a cycle): around the bottom
            out.append(f'<path d="M{sx},{sy} C{sx + 40},{sy + 60} {ex - 40},{ey + 60} {ex},{ey}" fill="none" '
                       'stroke="#b0bec5" stroke-dasharray="4 3" marker-end="url(#arrow)"/>')  # fmt: skip
        else:
            mid = (sx + ex) / 2
            out.append(f'<path d="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}" fill="none" stroke="#78909c" '
                       'marker-end="url(#arrow)"/>')  # fmt: skip
    for node, (x, y) in pos.items():
        kind, name = node
        if kind == "trigger":
            fill, label, state = (
                TRIGGER_COLOR,
                f"trigger · {kinds.get(name, '').lower().replace('_', ' ')}",
                None,
            )
        else:
            state = states.get(node)
            fill, label = STATE_COLORS.get(state or "", "#ffffff"), f"{kind} · {(state or 'not run').lower()}"
        css = f"node {kind}" + (f" {state.lower()}" if state else "")
        shape = (f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="{NODE_H / 2 if kind == "trigger" else 6}" '
                 f'fill="{fill}" stroke="#607d8b"/>'
                 f'<text x="{x + 10}" y="{y + 18}" font-size="13" font-weight="600">{escape(_short(name))}</text>'
                 f'<text x="{x + 10}" y="{y + 34}" font-size="11" fill="#455a64">{escape(label)}</text>'
                 f'<title>{escape(f"{kind} {name}" + (f": {state}" if state else ""))}</title>')  # fmt: skip
        href = (links or {}).get(node)
        body = f'<a href="{escape(href)}">{shape}</a>' if href else shape
        out.append(f'<g class="{css}" data-node="{escape(kind)}:{escape(name)}">{body}</g>')
    out.append("</svg>")
    return "".join(out)


def _short(name: str, n: int = 22) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"
