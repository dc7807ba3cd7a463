"""The model DAG as a static SVG picture (no JavaScript to draw it, unlike Mermaid): one column per layer, the
source tables first; each model placed in its column at or below the models and sources it reads, so every arrow
runs rightwards or down. Generated from the refs (c360.models), deterministic: the same models draw the same
bytes."""
from __future__ import annotations

import html

from c360 import models

CHAR = 6.8  # the width of a character of the 11px monospace label
ROW = 24
BOX = 18
GAP = 52  # between columns: room for the arcs of a column's own edges
TOP = 26
PAD = 6
FILL = {"sources": ("#eef0f3", "#8a94a3"), "base": ("#e6effa", "#5b84c4"), "identity": ("#efe9f9", "#8a6cc4"),
        "customer": ("#e7f5ec", "#4f9a68"), "attribution": ("#fdf0e3", "#c98a3c")}
DEFAULT_FILL = ("#f4f4f4", "#888888")


def graph(layers: tuple[str, ...]) -> tuple[dict[str, str], dict[str, set[str]], set[str]]:
    """The nodes of the picture: {name: column} (`sources` or a layer), {name: what it reads}, the Python steps."""
    found = models.discover()
    shown = {name: m for name, m in found.items() if m.layer in layers}
    reads = {name: models.dependencies(m) | models.sources_of(m) for name, m in shown.items()}
    column = {s: "sources" for r in reads.values() for s in r if s not in found}
    column.update({name: m.layer for name, m in shown.items()})
    reads = {name: {r for r in rs if r in column} for name, rs in reads.items()}
    return column, reads, {name for name, m in shown.items() if m.fn is not None}


def layout(column: dict[str, str], reads: dict[str, set[str]], order: list[str]) -> dict[str, int]:
    """A row per node: the first free row of its column at or below each thing it reads (below, when that is in
    the same column), placing the nodes in order of their depth (the longest chain of reads under them)."""
    depth: dict[str, int] = {}

    def depth_of(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((depth_of(r) for r in reads.get(name, ())), default=-1)
        return depth[name]

    rows: dict[str, int] = {}
    taken: dict[str, set[int]] = {c: set() for c in order}
    for name in sorted(column, key=lambda n: (depth_of(n), order.index(column[n]), n)):
        row = max((rows[r] + (column[r] == column[name]) for r in reads.get(name, ())), default=0)
        while row in taken[column[name]]:
            row += 1
        taken[column[name]].add(row)
        rows[name] = row
    return rows


def _label(name: str) -> str:
    return name.removeprefix("src__")


def dag_svg(layers: tuple[str, ...] = models.LAYERS) -> str:
    """The models of `layers` and the source tables they read as an SVG picture: a box per model (a double border:
    a Python step) in its layer's column, an arrow from each source or model to each model that reads it (grey
    between columns; in the layer's colour, arcing left, within a column); hovering a box names what it reads."""
    column, reads, steps = graph(layers)
    order = ["sources", *layers]
    rows = layout(column, reads, order)
    widths = {c: max((len(_label(n)) for n in column if column[n] == c), default=8) * CHAR + 2 * PAD for c in order}
    x0, x = {}, PAD
    for c in order:
        x0[c] = x
        x += widths[c] + GAP
    width = round(x - GAP + PAD)
    height = TOP + (max(rows.values(), default=0) + 1) * ROW + PAD

    def y(name: str) -> float:
        return TOP + rows[name] * ROW + BOX / 2

    def left(name: str) -> float:
        return x0[column[name]]

    def right(name: str) -> float:
        return x0[column[name]] + widths[column[name]]

    edges = []
    for target in sorted(reads):
        for src in sorted(reads[target]):
            if column[src] == column[target]:  # an arc left of the column, bulging with the rows it spans
                bulge = min(GAP - 12, 10 + 4 * (rows[target] - rows[src]))
                xa = left(src)
                d = (f"M{xa:.1f},{y(src):.1f} C{xa - bulge:.1f},{y(src):.1f} {xa - bulge:.1f},{y(target):.1f} "
                     f"{xa - 1:.1f},{y(target):.1f}")
            else:
                x1, x2 = right(src), left(target) - 1
                dx = min(GAP * 0.6, (x2 - x1) / 2)
                d = f"M{x1:.1f},{y(src):.1f} C{x1 + dx:.1f},{y(src):.1f} {x2 - dx:.1f},{y(target):.1f} {x2:.1f},{y(target):.1f}"
            own = column[src] == column[target]
            edges.append(f'<path d="{d}" stroke="{FILL.get(column[target], DEFAULT_FILL)[1]}"/>' if own
                         else f'<path d="{d}"/>')

    heads = [f'<text x="{x0[c] + widths[c] / 2:.1f}" y="{TOP - 10}" class="h">{html.escape(c)}</text>' for c in order]
    boxes = []
    for name in sorted(column, key=lambda n: (order.index(column[n]), rows[n])):
        fill, stroke = FILL.get(column[name], DEFAULT_FILL)
        bx, by, w = x0[column[name]], TOP + rows[name] * ROW, widths[column[name]]
        kind = column[name] + (", a Python step" if name in steps else "")
        tip = html.escape(f"{name}: a source table" if column[name] == "sources"
                          else f"{name} ({kind}) reads {', '.join(sorted(reads[name]))}")
        inner = (f'<rect x="{bx + 2:.1f}" y="{by + 2}" width="{w - 4:.1f}" height="{BOX - 4}" rx="2" fill="none" '
                 f'stroke="{stroke}"/>' if name in steps else "")
        boxes.append(f'<g><title>{tip}</title><rect x="{bx:.1f}" y="{by}" width="{w:.1f}" height="{BOX}" rx="3" '
                     f'fill="{fill}" stroke="{stroke}"/>{inner}'
                     f'<text x="{bx + PAD:.1f}" y="{by + BOX / 2 + 4:.1f}">{html.escape(_label(name))}</text></g>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="the model DAG">'
            '<defs><marker id="arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" '
            'orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#7d8796"/></marker></defs>'
            '<style>text { font: 11px ui-monospace, Menlo, Consolas, monospace; fill: #1d2430; } '
            'text.h { font: 600 12px system-ui, sans-serif; text-anchor: middle; fill: #454d5a; } '
            '.e path { fill: none; stroke: #9aa3af; stroke-width: 1; marker-end: url(#arrow); }</style>'
            f'{"".join(heads)}<g class="e">{"".join(edges)}</g>{"".join(boxes)}</svg>')
