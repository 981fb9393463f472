"""A table's lineage graph drawn on the server as inline SVG (no script: the console's CSP forbids inline
ones): the table in the middle column, what fed it to the left, what it fed to the right, each node in the
column of its distance from the table. Tables link to their console page."""

from __future__ import annotations

from html import escape

NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 190, 44, 50, 16, 12
COLORS = {"table": "#e3f2fd", "dataset": "#f5f5f5", "job": "#e8f5e9", "crawler": "#fff8e1", "external": "#f3e5f5"}


def columns(graph: dict) -> dict[str, int]:
    """Each node's column: 0 for the table, negative upstream, positive downstream."""
    start = next(n["id"] for n in graph["nodes"] if n.get("name") == graph["table"] and n["kind"] == "table")
    col = {start: 0}
    edges = [(e["from"], e["to"]) for e in graph["edges"]]
    for _ in range(len(graph["nodes"]) + 1):
        changed = False
        for a, b in edges:
            if b in col and a not in col:
                col[a], changed = col[b] - 1, True
            elif a in col and b not in col:
                col[b], changed = col[a] + 1, True
        if not changed:
            break
    return col


def svg(graph: dict, link=None) -> str:
    """The SVG of `graph` (Lineage.graph's answer); `link(node)` gives a node's URL or None."""
    col = columns(graph)
    nodes = {n["id"]: n for n in graph["nodes"] if n["id"] in col}
    lo = min(col.values())
    by_col: dict[int, list[str]] = {}
    for nid in sorted(nodes, key=lambda i: (col[i], nodes[i]["kind"], nodes[i]["name"])):
        by_col.setdefault(col[nid] - lo, []).append(nid)
    pos = {}
    for c, members in by_col.items():
        for r, nid in enumerate(members):
            pos[nid] = (PAD + c * (NODE_W + COL_GAP), PAD + r * (NODE_H + ROW_GAP))
    width = PAD * 2 + (max(by_col) + 1) * (NODE_W + COL_GAP) - COL_GAP
    height = PAD * 2 + max(len(m) for m in by_col.values()) * (NODE_H + ROW_GAP) - ROW_GAP
    out = [f'<svg class="graph" id="lineage-graph" role="img" aria-label="Lineage graph of {escape(graph["table"])}" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
           '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#78909c"/></marker></defs>']  # fmt: skip
    for e in graph["edges"]:
        if e["from"] not in pos or e["to"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e["from"]], pos[e["to"]]
        sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        mid = (sx + ex) / 2
        runs = f'{e["run_count"]} run{"s" if e["run_count"] != 1 else ""}'
        out.append(f'<path class="lineage-edge" d="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}" fill="none" '
                   f'stroke="#78909c" marker-end="url(#lineage-arrow)"><title>{escape(runs)}</title></path>')  # fmt: skip
    for nid, (x, y) in pos.items():
        n = nodes[nid]
        label = n["kind"] if n["kind"] != "dataset" else n.get("namespace", "dataset")
        shape = (f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="{6 if n["kind"] in ("table", "dataset") else NODE_H / 2}" '
                 f'fill="{COLORS.get(n["kind"], "#fff")}" stroke="{"#1565c0" if col[nid] == 0 else "#607d8b"}" '
                 f'stroke-width="{2 if col[nid] == 0 else 1}"/>'
                 f'<text x="{x + 10}" y="{y + 18}" font-size="13" font-weight="600">{escape(_short(n["name"]))}</text>'
                 f'<text x="{x + 10}" y="{y + 34}" font-size="11" fill="#455a64">{escape(_short(label, 28))}</text>'
                 f'<title>{escape(n["kind"] + " " + n["name"])}</title>')  # fmt: skip
        href = link(n) if link else None
        body = f'<a href="{escape(href)}">{shape}</a>' if href else shape
        out.append(f'<g class="lineage-node {escape(n["kind"])}" data-node="{escape(n["kind"])}:{escape(n["name"])}">{body}</g>')
    out.append("</svg>")
    return "".join(out)


def _short(name: str, n: int = 25) -> str:
    return name if len(name) <= n else "…" + name[-(n - 1):]
