"""A 30-stage lineage: the graph page is drawn, legible, and no two boxes overlap."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import auditpipe.cli.report_cmds  # noqa: F401  (registers `report`)
from auditpipe.ledger.ledger import Ledger
from auditpipe.report.graph import CHAR_PX, PAD_X
from auditpipe.signing.factory import local_signer
from tests.conftest import Project, Result
from tests.integration.test_report import pdftotext
from tests.unit.report.synthetic import dag

Cli = Callable[..., Result]
SVG = "{http://www.w3.org/2000/svg}"


def gray_pixels(pdf: Path, page: int, out: Path) -> tuple[int, int, bytes]:
    """The page rasterized by poppler as 8-bit grayscale: (width, height, pixels)."""
    subprocess.run(
        ["pdftoppm", "-r", "40", "-gray", "-f", str(page), "-l", str(page), str(pdf), str(out)],
        check=True,
    )
    [pgm] = out.parent.glob(f"{out.name}*.pgm")
    data = pgm.read_bytes()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P5" and maxval == b"255"
    return int(width), int(height), pixels


def test_thirty_stage_lineage_graph(project: Project, cli: Cli, tmp_path: Path) -> None:
    with Ledger.open(project.root) as ledger:
        artifact, stages = dag(ledger, local_signer(), stages=30)
    pdf, html = tmp_path / "big.pdf", tmp_path / "big.html"
    result = cli("report", artifact, "-o", str(pdf), "--html", str(html))
    assert result.code == 0, result.err
    text = pdftotext(pdf)
    for stage in stages:
        assert f"✓ {stage}" in text

    # The graph page: found by its caption, rasterized, and not blank.
    page = next(p for p in range(1, 6) if "From the source data" in pdftotext(pdf, p))
    width, height, pixels = gray_pixels(pdf, page, tmp_path / "graph")
    inked = sum(1 for value in pixels if value < 200)
    assert inked > 0.02 * width * height, "the graph page is (nearly) blank"
    middle = pixels[width * (height // 4) : width * (height * 3 // 4)]
    assert sum(1 for value in middle if value < 200) > 0.3 * inked  # a drawing, not just text

    # The drawing's own geometry: every box holds its text, no two boxes meet.
    svg_text = re.search(r"<svg .*?</svg>", html.read_text(), re.S)
    assert svg_text is not None
    svg = ElementTree.fromstring(svg_text.group(0))
    boxes = []
    for group in svg.iter(f"{SVG}g"):
        rect = group.find(f"{SVG}rect")
        assert rect is not None
        x, y, w, h = (float(rect.attrib[k]) for k in ("x", "y", "width", "height"))
        for line in group.iter(f"{SVG}text"):
            assert float(line.attrib["x"]) >= x
            assert len(line.text or "") * CHAR_PX <= w - 2 * PAD_X + 0.01
            assert y < float(line.attrib["y"]) < y + h
        boxes.append((x, y, w, h))
    assert len(boxes) == len(stages) + 5 + 1  # runs, CSV sources, the artifact
    for i, (ax, ay, aw, ah) in enumerate(boxes):
        for bx, by, bw, bh in boxes[i + 1 :]:
            apart = ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
            assert apart, ((ax, ay, aw, ah), (bx, by, bw, bh))
    # Legible when printed: node text at no less than 6 pt.
    view_width = float(svg.attrib["viewBox"].split()[2])
    printed_mm = float(svg.attrib["width"].removesuffix("mm"))
    font_pt = 11 * (printed_mm / 25.4 * 72) / view_width
    assert font_pt >= 6, font_pt
