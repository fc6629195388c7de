"""The lineage drawing: boxes never overlap, text fits its box, the page is used well."""

from __future__ import annotations

import itertools
import random
from xml.etree import ElementTree

import pytest

from auditpipe.report.graph import CHAR_PX, PAD_X, Drawing, Node, box_size, draw
from auditpipe.report.layout import place, wrap

SVG = "{http://www.w3.org/2000/svg}"


def overlapping(drawing: Drawing) -> list[tuple[str, str]]:
    found = []
    boxes = drawing.boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h:
                found.append((a.key, b.key))
    return found


def run(key: str) -> Node:
    return Node(key, "run", f"✓ {key}", "run 0123456789ab")


def chain(n: int) -> tuple[list[Node], list[tuple[str, str]]]:
    nodes = [Node("src", "source", "✓ data/raw.csv", "sha256 0123456789abcdef")]
    nodes += [run(f"stage_{i:02d}") for i in range(n)]
    nodes.append(Node("artifact", "artifact", "models/model.pkl", "sha256 0123456789abcdef"))
    keys = [n.key for n in nodes]
    return nodes, list(itertools.pairwise(keys))


def random_dag(seed: int, n: int) -> tuple[list[Node], list[tuple[str, str]]]:
    rng = random.Random(seed)
    nodes = [run(f"s{i:02d}") for i in range(n)]
    edges = [
        (f"s{j:02d}", f"s{i:02d}")
        for i in range(1, n)
        for j in rng.sample(range(i), min(i, rng.randint(1, 3)))
    ]
    return nodes, edges


@pytest.mark.parametrize("seed", range(8))
def test_no_two_boxes_overlap_in_random_lineages(seed: int) -> None:
    nodes, edges = random_dag(seed, 30 + seed)
    drawing = draw(nodes, edges)
    assert overlapping(drawing) == []
    assert len(drawing.boxes) == len(nodes)
    assert drawing.svg.count('class="edge"') == len(edges)


def test_every_label_fits_its_box() -> None:
    nodes, edges = chain(3)
    nodes.append(Node("long", "source", "✗ " + "deeply/nested/" * 6 + "x.csv", "sha256 0", False))
    edges.append(("long", "stage_00"))
    svg = ElementTree.fromstring(draw(nodes, edges).svg)
    groups = list(svg.iter(f"{SVG}g"))
    assert len(groups) == len(nodes)
    for group in groups:
        rect = group.find(f"{SVG}rect")
        assert rect is not None
        for text in group.iter(f"{SVG}text"):
            assert len(text.text or "") * CHAR_PX + 2 * PAD_X <= float(rect.attrib["width"]) + 0.01
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert "✗ …eply/nested/deeply/nested/x.csv" in labels  # the mark stays, the path keeps its end


def test_a_long_chain_is_folded_to_stay_legible() -> None:
    drawing = draw(*chain(30))
    assert overlapping(drawing) == []
    assert drawing.font_pt >= 6
    assert drawing.height_mm <= 215 and drawing.width_mm <= 178


def test_drawing_is_deterministic() -> None:
    nodes, edges = random_dag(3, 30)
    assert draw(nodes, edges).svg == draw(list(nodes), list(edges)).svg


def test_text_is_escaped() -> None:
    drawing = draw([Node("a", "source", "✓ a<b>&c.csv", "sha256 0")], [])
    assert "a&lt;b&gt;&amp;c.csv" in drawing.svg
    assert drawing.page == "portrait" and drawing.scale == 1.0


def fan_out(n: int) -> tuple[list[Node], list[tuple[str, str]]]:
    nodes = [Node("src", "source", "✓ data/raw.csv", "sha256 0123456789abcdef")]
    nodes += [run(f"region_{i:02d}") for i in range(n)]
    nodes += [run("ensemble"), Node("artifact", "artifact", "models/m.pkl", "sha256 01234567")]
    edges = [("src", f"region_{i:02d}") for i in range(n)]
    edges += [(f"region_{i:02d}", "ensemble") for i in range(n)] + [("ensemble", "artifact")]
    return nodes, edges


def test_a_wide_layer_is_set_as_a_grid_whose_ducts_miss_every_box() -> None:
    nodes, edges = fan_out(30)
    drawing = draw(nodes, edges)
    assert overlapping(drawing) == []
    assert drawing.font_pt >= 6
    sizes = {n.key: box_size(n) for n in nodes}
    placed = wrap(place([n.key for n in nodes], sizes, edges), 6)
    for tail, head, points, straight in placed.edges:
        others = [k for k in placed.centres if k not in (tail, head)]
        for (ax, ay), (bx, by), line in zip(points, points[1:], straight, strict=False):
            if not line:
                continue
            for key in others:
                (cx, cy), (w, h) = placed.centres[key], placed.sizes[key]
                inside_x = max(ax, bx) > cx - w / 2 and min(ax, bx) < cx + w / 2
                inside_y = max(ay, by) > cy - h / 2 and min(ay, by) < cy + h / 2
                assert not (inside_x and inside_y), (tail, head, key)
