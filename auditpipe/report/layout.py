"""Place a graph's boxes: layered (Sugiyama) by grandalf, then made to fit a page.

``grandalf`` assigns layers, orders them to reduce crossings and places boxes
(Brandes-Köpf); this module then pushes apart boxes a layer lets touch (so no
two boxes ever overlap), routes each edge through grandalf's dummy points and,
for a long top-to-bottom graph, folds its layers into bands set side by side
(edges between bands run in the empty gutters), the way a long chain of stages
fits an A4 page. Coordinates are SVG user units (px); sizes are (width, height).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

NODE_GAP = 24.0
"""Space between neighbouring boxes in a layer."""
LAYER_GAP = 34.0
"""Space between layers."""
BAND_GAP = 56.0
"""Space between folded bands (their gutter carries the edges between them)."""
DUMMY_PX = 10.0
"""Room kept in a layer for an edge passing through it."""
MARGIN = 6.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Placed:
    """A laid-out graph: box centres and sizes, and each edge's route."""

    width: float
    height: float
    centres: dict[str, Point]
    sizes: dict[str, tuple[float, float]]
    edges: list[tuple[str, str, list[Point], list[bool]]]
    """(tail, head, points from tail to head, straight[i]: segment i is a line, not a curve)."""


@dataclass(frozen=True)
class _Ranked:
    """Top-to-bottom placement in layout space, each point with its layer (rank)."""

    centres: dict[str, tuple[float, float, int]]
    sizes: dict[str, tuple[float, float]]
    edges: list[tuple[str, str, list[tuple[float, float, int]]]]
    ranks: int


def place(
    keys: list[str], sizes: dict[str, tuple[float, float]], edges: list[tuple[str, str]]
) -> _Ranked:
    """Lay out top to bottom (pass sizes as (height, width) to lay out left to right)."""
    from grandalf.graphs import Edge, Vertex, graph_core
    from grandalf.layouts import SugiyamaLayout, VertexViewer

    vertices = {}
    for key in keys:
        vertex = Vertex(key)
        vertex.view = VertexViewer(*sizes[key])
        vertices[key] = vertex
    links = [Edge(vertices[a], vertices[b]) for a, b in edges if a in vertices and b in vertices]
    centres: dict[str, tuple[float, float, int]] = {}
    routes: list[tuple[str, str, list[tuple[float, float, int]]]] = []
    offset, ranks = 0.0, 1
    for members, component_edges in _components(keys, links, vertices):
        layout = SugiyamaLayout(graph_core(members, component_edges))
        layout.xspace, layout.yspace = NODE_GAP, LAYER_GAP
        layout.init_all()
        layout.draw(1.5)  # orders the layers and places the vertices
        _separate(layout)
        left, right = _compact(layout)
        shift = offset - left
        for vertex in members:
            x, y = vertex.view.xy
            centres[vertex.data] = (x + shift, y, layout.grx[vertex].rank)
        for edge in component_edges:
            route = [(x + shift, y, r) for x, y, r in _route(layout, edge)]
            routes.append((edge.v[0].data, edge.v[1].data, route))
        offset += right - left + 2 * NODE_GAP
        ranks = max(ranks, len(layout.layers))
    return _Ranked(centres, sizes, routes, ranks)


def fold(ranked: _Ranked, bands: int) -> Placed:
    """Cut the layers into ``bands`` consecutive groups and set the groups side by side."""
    per_band = math.ceil(ranked.ranks / bands)
    band_of = {r: r // per_band for r in range(ranked.ranks)}
    top: dict[int, float] = {}
    bottom: dict[int, float] = {}
    left: dict[int, float] = {}
    right: dict[int, float] = {}

    def extend(band: int, x0: float, x1: float, y0: float, y1: float) -> None:
        top[band] = min(top.get(band, y0), y0)
        bottom[band] = max(bottom.get(band, y1), y1)
        left[band] = min(left.get(band, x0), x0)
        right[band] = max(right.get(band, x1), x1)

    for key, (x, y, rank) in ranked.centres.items():
        w, h = ranked.sizes[key]
        extend(band_of[rank], x - w / 2, x + w / 2, y - h / 2, y + h / 2)
    for _tail, _head, points in ranked.edges:
        for x, y, rank in points:
            extend(band_of[rank], x - DUMMY_PX / 2, x + DUMMY_PX / 2, y, y)
    used = sorted(top)
    origin: dict[int, Point] = {}
    x_at = MARGIN
    for band in used:
        origin[band] = (x_at - left[band], MARGIN - top[band])
        x_at += right[band] - left[band] + BAND_GAP

    def move(x: float, y: float, rank: int) -> Point:
        dx, dy = origin[band_of[rank]]
        return (x + dx, y + dy)

    centres = {k: move(*p) for k, p in ranked.centres.items()}
    edges = []
    for n, (tail, head, points) in enumerate(ranked.edges):
        route: list[Point] = [move(*points[0])]
        straight: list[bool] = []
        for (ax, ay, ar), (bx, by, br) in itertools.pairwise(points):
            a, b = move(ax, ay, ar), move(bx, by, br)
            if band_of[ar] == band_of[br]:
                route.append(b)
                straight.append(False)
                continue
            # Down out of band A, along its foot to the gutter, up the gutter,
            # along the head of band B and down into b; spread so routes stay apart.
            lane = 3.0 * (n % 6)
            foot = bottom[band_of[ar]] + origin[band_of[ar]][1] + LAYER_GAP / 2 + lane
            head_y = MARGIN - LAYER_GAP / 4 - lane
            gutter = origin[band_of[ar]][0] + right[band_of[ar]] + BAND_GAP / 2 + lane
            detour = [(a[0], foot), (gutter, foot), (gutter, head_y), (b[0], head_y), b]
            route += detour
            straight += [True, True, True, True, False]
        edges.append((tail, head, route, straight))
    return _bounded(centres, ranked.sizes, edges)


def widest(ranked: _Ranked) -> int:
    """The most boxes any one layer holds."""
    counts: dict[int, int] = {}
    for _x, _y, rank in ranked.centres.values():
        counts[rank] = counts.get(rank, 0) + 1
    return max(counts.values(), default=0)


def wrap(ranked: _Ranked, columns: int) -> Placed:
    """Set each layer wider than ``columns`` as a grid of rows; edges reach a box below the
    grid's first row down the channels between its columns (like wires in a cable duct)."""
    cells: dict[int, list[tuple[float, str | tuple[int, int]]]] = {}
    for key, (x, _y, rank) in ranked.centres.items():
        cells.setdefault(rank, []).append((x, key))
    for n, (_a, _b, points) in enumerate(ranked.edges):
        for i, (x, _y, rank) in enumerate(points[1:-1], 1):
            cells.setdefault(rank, []).append((x, (n, i)))
    box_h = max((h for _w, h in ranked.sizes.values()), default=0.0)
    row_step = box_h + LAYER_GAP
    grid: dict[str | tuple[int, int], tuple[int, int, int]] = {}  # item -> (rank, row, col)
    geometry: dict[int, tuple[float, float, int]] = {}  # rank -> (left, cell width, rows)
    for rank, items in cells.items():
        items.sort(key=lambda item: item[0])
        if len(items) <= columns:
            continue
        cell = max(ranked.sizes[k][0] if isinstance(k, str) else DUMMY_PX for _x, k in items)
        span = columns * cell + (columns - 1) * NODE_GAP
        middle = (items[0][0] + items[-1][0]) / 2
        geometry[rank] = (middle - span / 2, cell, math.ceil(len(items) / columns))
        for i, (_x, item) in enumerate(items):
            grid[item] = (rank, i // columns, i % columns)
    ranks = sorted({r for _x, _y, r in ranked.centres.values()} | set(cells))
    extra, below = 0.0, {}
    for rank in ranks:
        below[rank] = extra
        if rank in geometry:
            extra += (geometry[rank][2] - 1) * row_step

    def at(item: str | tuple[int, int], x: float, y: float, rank: int) -> Point:
        if item not in grid:
            return (x, y + below[rank])
        _r, row, col = grid[item]
        left, cell, _rows = geometry[rank]
        return (left + col * (cell + NODE_GAP) + cell / 2, y + below[rank] + row * row_step)

    def channel(rank: int, col: int, side: int) -> float:
        left, cell, _rows = geometry[rank]
        edge = left + col * (cell + NODE_GAP) + (cell if side > 0 else 0)
        return edge + side * NODE_GAP / 2 + side * 4  # exits right of centre, entries left

    centres = {k: at(k, x, y, r) for k, (x, y, r) in ranked.centres.items()}
    edges = []
    for n, (tail, head, points) in enumerate(ranked.edges):
        along: list[str | tuple[int, int]] = [tail, *((n, i) for i in range(1, len(points) - 1))]
        along.append(head)
        placed = [at(item, x, y, r) for item, (x, y, r) in zip(along, points, strict=True)]
        route, straight = [placed[0]], []
        for i in range(len(points) - 1):
            (ax, ay), (bx, by) = placed[i], placed[i + 1]
            ra, rb = points[i][2], points[i + 1][2]
            if along[i] in grid and grid[along[i]][1] < geometry[ra][2] - 1:  # leave via duct
                row, col = grid[along[i]][1], grid[along[i]][2]
                lane = ay + box_h / 2 + LAYER_GAP / 3
                x = channel(ra, col, +1)
                last_row = ay + (geometry[ra][2] - 1 - row) * row_step
                foot = last_row + box_h / 2 + LAYER_GAP / 4
                route += [(ax, lane), (x, lane), (x, foot)]
                straight += [True, True, True]
            if along[i + 1] in grid and grid[along[i + 1]][1] > 0:  # arrive via duct
                row, col = grid[along[i + 1]][1], grid[along[i + 1]][2]
                x = channel(rb, col, -1)
                top = by - row * row_step - box_h / 2 - LAYER_GAP / 4
                lane = by - box_h / 2 - LAYER_GAP / 3
                route += [(x, top), (x, lane), (bx, lane)]
                straight += [False, True, True]
                route.append((bx, by))
                straight.append(True)
            else:
                route.append((bx, by))
                straight.append(False)
        edges.append((tail, head, route, straight))
    return _bounded(centres, ranked.sizes, edges)


def transpose(ranked: _Ranked) -> Placed:
    """Turn a placement made with (height, width) sizes into a left-to-right one."""
    centres = {k: (y, x) for k, (x, y, _r) in ranked.centres.items()}
    sizes = {k: (h, w) for k, (w, h) in ranked.sizes.items()}
    edges = [
        (a, b, [(y, x) for x, y, _r in points], [False] * (len(points) - 1))
        for a, b, points in ranked.edges
    ]
    return _bounded(centres, sizes, edges)


def _bounded(
    centres: dict[str, Point],
    sizes: dict[str, tuple[float, float]],
    edges: list[tuple[str, str, list[Point], list[bool]]],
) -> Placed:
    """Shift everything to start at the margin and measure it."""
    xs = [x - sizes[k][0] / 2 for k, (x, _y) in centres.items()]
    ys = [y - sizes[k][1] / 2 for k, (_x, y) in centres.items()]
    xs += [x for _a, _b, points, _s in edges for x, _y in points]
    ys += [y for _a, _b, points, _s in edges for _x, y in points]
    dx, dy = MARGIN - min(xs, default=0.0), MARGIN - min(ys, default=0.0)
    centres = {k: (x + dx, y + dy) for k, (x, y) in centres.items()}
    edges = [(a, b, [(x + dx, y + dy) for x, y in pts], s) for a, b, pts, s in edges]
    width = max((x + sizes[k][0] / 2 for k, (x, _y) in centres.items()), default=0.0)
    height = max((y + sizes[k][1] / 2 for k, (_x, y) in centres.items()), default=0.0)
    width = max([width, *(x for _a, _b, pts, _s in edges for x, _y in pts)]) + MARGIN
    height = max([height, *(y for _a, _b, pts, _s in edges for _x, y in pts)]) + MARGIN
    return Placed(max(width, 2 * MARGIN), max(height, 2 * MARGIN), centres, sizes, edges)


def _components(keys: list[str], links: list[Any], vertices: dict[str, Any]) -> list[Any]:
    """Connected components in key order (grandalf's own split iterates a set)."""
    parent = {k: k for k in keys}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for link in links:
        a, b = find(link.v[0].data), find(link.v[1].data)
        if a != b:
            parent[b] = a
    groups: dict[str, list[Any]] = {}
    for key in keys:
        groups.setdefault(find(key), []).append(vertices[key])
    return [
        (members, [e for e in links if find(e.v[0].data) == root])
        for root, members in groups.items()
    ]


def _separate(layout: Any) -> None:
    """Push boxes apart within each layer (the x placement may let them touch)."""
    from grandalf.layouts import DummyVertex

    for layer in layout.layers:
        previous_edge = -math.inf
        for vertex in sorted(layer, key=lambda v: layout.grx[v].pos):
            dummy = isinstance(vertex, DummyVertex)
            half = DUMMY_PX / 2 if dummy else float(vertex.view.w) / 2
            x, y = vertex.view.xy
            x = max(x, previous_edge + half)
            vertex.view.xy = (x, y)
            previous_edge = x + half + (NODE_GAP / 2 if dummy else NODE_GAP)


def _compact(layout: Any) -> tuple[float, float]:
    """Close the empty vertical strips no layer uses (the x placement spreads wide)."""
    from grandalf.layouts import DummyVertex

    vertices = [v for layer in layout.layers for v in layer]

    def half(vertex: Any) -> float:
        return DUMMY_PX / 2 if isinstance(vertex, DummyVertex) else float(vertex.view.w) / 2

    spans = sorted((v.view.xy[0] - half(v), v.view.xy[0] + half(v)) for v in vertices)
    cuts: list[tuple[float, float]] = []  # (where a gap ends, how much it shrinks)
    reach = spans[0][1] if spans else 0.0
    for start, end in spans[1:]:
        if start - reach > NODE_GAP:
            cuts.append((start, start - reach - NODE_GAP))
        reach = max(reach, end)
    for vertex in vertices:
        x, y = vertex.view.xy
        vertex.view.xy = (x - sum(by for at, by in cuts if x >= at), y)
    xs = [(v.view.xy[0] - half(v), v.view.xy[0] + half(v)) for v in vertices]
    return min((a for a, _b in xs), default=0.0), max((b for _a, b in xs), default=0.0)


def _route(layout: Any, edge: Any) -> list[tuple[float, float, int]]:
    """Centre points from tail to head, through the edge's dummy vertices."""
    tail, head = edge.v
    r0, r1 = layout.grx[tail].rank, layout.grx[head].rank
    points = [(*tail.view.xy, r0)]
    if edge in layout.ctrls:
        ctrl = layout.ctrls[edge]
        step = 1 if r0 < r1 else -1
        points += [(*ctrl[r].view.xy, r) for r in range(r0 + step, r1, step)]
    points.append((*head.view.xy, r1))
    return [(float(x), float(y), int(r)) for x, y, r in points]
