"""The lineage graph as a vector drawing: nodes from the lineage, placed by ``layout``, as SVG.

Box widths come from their text (monospace, so exact); the SVG uses
presentation attributes only (no CSS, no fonts to fetch), so a browser and
WeasyPrint draw it alike. Several placements are tried (top to bottom; folded
into up to four bands for a long chain; with wide layers set as grids; left to
right), and the one that prints largest on an A4 page wins. The drawing says
which page orientation it wants and the font size it prints at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from auditpipe.provenance.lineage import Lineage
from auditpipe.report.layout import Placed, Point, fold, place, transpose, widest, wrap

FONT_PX = 11.0
CHAR_PX = FONT_PX * 0.6021  # DejaVu Sans Mono's advance width (1233/2048 em)
LINE_PX = 14.0
PAD_X, PAD_Y = 8.0, 6.0
BOX_H = 2 * PAD_Y + 2 * LINE_PX
MAX_CHARS = 34
ARROW = 5.0
FOLD_PENALTY = 0.85
"""A folded layout must print this much larger to be preferred (folds are harder to read)."""
MM_PER_PX = 25.4 / 96
PX_PER_PT = 96 / 72

# Room for the graph on an A4 page under its heading and legend, in mm.
PAGES = {"portrait": (178.0, 215.0), "landscape": (265.0, 140.0)}

COLOURS = {
    "run": ("#e8f5e9", "#2e7d32"),
    "source": ("#e3f2fd", "#1565c0"),
    "artifact": ("#fff8e1", "#ef8f00"),
    "failed": ("#ffebee", "#c62828"),
}


@dataclass(frozen=True)
class Node:
    key: str
    kind: str
    """``run``, ``source`` or ``artifact``."""
    title: str
    subtitle: str
    ok: bool = True
    dashed: bool = False
    """Drawn with a dashed border (a run that used the artifact)."""


@dataclass(frozen=True)
class Box:
    """A node's box in SVG user units (px)."""

    key: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Drawing:
    svg: str
    orientation: str
    """``TB`` (top to bottom) or ``LR`` (left to right)."""
    page: str
    """``portrait`` or ``landscape``: the page the drawing fits best."""
    width_mm: float
    height_mm: float
    scale: float
    boxes: list[Box] = field(default_factory=list)

    @property
    def font_pt(self) -> float:
        """The size node text prints at."""
        return FONT_PX * self.scale / PX_PER_PT


def lineage_nodes(lineage: Lineage) -> tuple[list[Node], list[tuple[str, str]]]:
    """The artifact, its runs and its source data, and the edges between them."""
    nodes = [Node("artifact", "artifact", lineage.artifact, f"sha256 {lineage.sha256[:16]}")]
    edges: list[tuple[str, str]] = []
    if lineage.root:
        edges.append((lineage.root, "artifact"))
    consumers = set(lineage.consumers)
    for node in lineage.all_runs():
        mark = "✓" if node.ok else "✗"
        suffix = "" if node.run else " (missing)"
        dashed = node.id in consumers and node.id != lineage.root
        nodes.append(
            Node(
                node.id,
                "run",
                f"{mark} {node.stage}",
                f"run {node.id[:12]}{suffix}",
                node.ok,
                dashed,
            )
        )
        if node.run is None:
            continue
        for material in node.run.materials:
            if dashed and material.digest.sha256 == lineage.sha256:
                edges.append(("artifact", node.id))
            elif material.produced_by and material.produced_by in lineage.runs:
                edges.append((material.produced_by, node.id))
            elif not material.produced_by and material.name in lineage.sources:
                edges.append((f"source:{material.name}", node.id))
    for source in lineage.sources.values():
        mark = "✓" if source.ok else "✗"
        nodes.append(
            Node(
                f"source:{source.name}",
                "source",
                f"{mark} {source.name}",
                f"sha256 {source.sha256[:16]}",
                source.ok,
            )
        )
    return nodes, list(dict.fromkeys(edges))


def draw(nodes: list[Node], edges: list[tuple[str, str]]) -> Drawing:
    """Place the graph every way and draw the placement that prints largest."""
    sizes = {n.key: box_size(n) for n in nodes}
    keys = [n.key for n in nodes]
    down = place(keys, sizes, edges)
    across = place(keys, {k: (h, w) for k, (w, h) in sizes.items()}, edges)
    candidates = [(fold(down, 1), "TB", 1), (transpose(across), "LR", 1)]
    candidates += [(fold(down, bands), "TB", bands) for bands in range(2, min(4, down.ranks) + 1)]
    candidates += [(wrap(down, cols), "TB", 2) for cols in (4, 6, 8, 10) if cols < widest(down)]
    best: tuple[float, float, str, str, Placed] | None = None
    for placed, orientation, bands in candidates:
        for page, (avail_w, avail_h) in PAGES.items():
            scale = min(
                1.0, avail_w / (placed.width * MM_PER_PX), avail_h / (placed.height * MM_PER_PX)
            )
            score = scale * FOLD_PENALTY ** (bands - 1)  # fold only when it clearly pays
            if best is None or score > best[0] + 1e-9:
                best = (score, scale, orientation, page, placed)
    assert best is not None
    _score, scale, orientation, page, placed = best
    boxes = [
        Box(key, cx - w / 2, cy - h / 2, w, h)
        for key, (cx, cy) in placed.centres.items()
        for w, h in [placed.sizes[key]]
    ]
    return Drawing(
        svg=_svg(nodes, placed, scale, orientation == "TB"),
        orientation=orientation,
        page=page,
        width_mm=round(placed.width * MM_PER_PX * scale, 2),
        height_mm=round(placed.height * MM_PER_PX * scale, 2),
        scale=scale,
        boxes=boxes,
    )


def _clip(label: str) -> str:
    """At most ``MAX_CHARS``: a long path keeps its end, and a leading ✓/✗ stays."""
    mark, rest = (label[:2], label[2:]) if label[:2] in ("✓ ", "✗ ") else ("", label)
    room = MAX_CHARS - len(mark)
    return mark + (rest if len(rest) <= room else "…" + rest[-(room - 1) :])


def box_size(node: Node) -> tuple[float, float]:
    """(width, height) of a node's box: its longer label, monospace, plus padding."""
    chars = max(len(_clip(node.title)), len(_clip(node.subtitle)))
    return chars * CHAR_PX + 2 * PAD_X, BOX_H


def _svg(nodes: list[Node], placed: Placed, scale: float, tb: bool) -> str:
    w_mm = placed.width * MM_PER_PX * scale
    h_mm = placed.height * MM_PER_PX * scale
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage-graph" '
        f'viewBox="0 0 {placed.width:.2f} {placed.height:.2f}" '
        f'width="{w_mm:.2f}mm" height="{h_mm:.2f}mm" '
        f'font-family="DejaVu Sans Mono, monospace" font-size="{FONT_PX:g}">'
    ]
    for tail, head, points, straight in placed.edges:
        out.append(_edge(placed.sizes[tail], placed.sizes[head], points, straight, tb))
    for node in nodes:
        out.append(_node(node, placed))
    out.append("</svg>")
    return "\n".join(out)


def _port(point: Point, size: tuple[float, float], towards: Point, tb: bool, gap: float) -> Point:
    """Where a route meets a box: the middle of its side facing ``towards`` along the flow."""
    (x, y), (w, h), (tx, ty) = point, size, towards
    if tb:
        return (x, y + math.copysign(h / 2 + gap, ty - y))
    return (x + math.copysign(w / 2 + gap, tx - x), y)


def _edge(
    tail: tuple[float, float],
    head: tuple[float, float],
    route: list[Point],
    straight: list[bool],
    tb: bool,
) -> str:
    """The route as lines and curves from the tail's side to the head's, with an arrowhead.

    ``tail`` and ``head`` are the (width, height) of the boxes the route joins; ``tb``
    says the layers are stacked top to bottom (else left to right).
    """
    points = list(route)
    points[0] = _port(points[0], tail, points[1], tb, 0.0)
    points[-1] = _port(points[-1], head, points[-2], tb, ARROW)
    d = [f"M{points[0][0]:.2f},{points[0][1]:.2f}"]
    for (ax, ay), (bx, by), line in zip(points, points[1:], straight, strict=False):
        if line:
            d.append(f"L{bx:.2f},{by:.2f}")
        elif tb:
            mid = (ay + by) / 2
            d.append(f"C{ax:.2f},{mid:.2f} {bx:.2f},{mid:.2f} {bx:.2f},{by:.2f}")
        else:
            mid = (ax + bx) / 2
            d.append(f"C{mid:.2f},{ay:.2f} {mid:.2f},{by:.2f} {bx:.2f},{by:.2f}")
    (x, y), (px, py) = points[-1], points[-2]
    if tb:
        sign = math.copysign(1, y - py) if y != py else 1.0
        arrow = [(x - 4, y), (x + 4, y), (x, y + sign * ARROW)]
    else:
        sign = math.copysign(1, x - px) if x != px else 1.0
        arrow = [(x, y - 4), (x, y + 4), (x + sign * ARROW, y)]
    corners = " ".join(f"{ax:.2f},{ay:.2f}" for ax, ay in arrow)
    return (
        f'<path class="edge" d="{" ".join(d)}" fill="none" stroke="#607d8b" stroke-width="1.2"/>'
        f'<polygon points="{corners}" fill="#607d8b"/>'
    )


def _node(node: Node, placed: Placed) -> str:
    cx, cy = placed.centres[node.key]
    w, h = placed.sizes[node.key]
    x, y = cx - w / 2, cy - h / 2
    fill, stroke = COLOURS[node.kind if node.ok else "failed"]
    width = 2.4 if node.kind == "artifact" or not node.ok else 1.2
    dash = ' stroke-dasharray="4 3"' if node.dashed else ""
    radius = 8 if node.kind == "source" else 2
    title_y = y + PAD_Y + FONT_PX
    return (
        f'<g class="node node-{node.kind}">'
        f'<rect class="node-box" x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" '
        f'rx="{radius}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}/>'
        f'<text x="{x + PAD_X:.2f}" y="{title_y:.2f}" font-weight="bold" fill="#111">'
        f"{escape(_clip(node.title))}</text>"
        f'<text x="{x + PAD_X:.2f}" y="{title_y + LINE_PX:.2f}" fill="#333">'
        f"{escape(_clip(node.subtitle))}</text></g>"
    )
