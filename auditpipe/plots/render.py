"""Writing Vega-Lite specs as HTML and SVG (and PNG on request) with vl-convert."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from auditpipe.errors import ConfigError

FORMATS = ("html", "svg", "png")


def file_stem(plot_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", plot_id).strip("_") or "plot"


def write(
    specs: list[tuple[str, dict[str, Any]]], out: Path, formats: tuple[str, ...]
) -> list[Path]:
    """Write each ``(id, spec)`` in ``formats`` plus ``index.html``; the paths written."""
    try:
        import vl_convert
    except ImportError as exc:
        raise ConfigError(
            "drawing plots needs vl-convert-python",
            hint="pip install 'auditpipe[plots]'",
        ) from exc
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    links = []
    for plot_id, spec in specs:
        stem = file_stem(plot_id)
        (out / f"{stem}.vl.json").write_text(json.dumps(spec, indent=1))
        written.append(out / f"{stem}.vl.json")
        for kind in formats:
            target = out / f"{stem}.{kind}"
            if kind == "html":
                target.write_text(vl_convert.vegalite_to_html(spec, bundle=True))
            elif kind == "svg":
                target.write_text(vl_convert.vegalite_to_svg(spec))
            else:
                target.write_bytes(vl_convert.vegalite_to_png(spec))
            written.append(target)
        first = f"{stem}.{formats[0]}" if formats else f"{stem}.vl.json"
        links.append(f'<li><a href="{html.escape(first)}">{html.escape(plot_id)}</a></li>')
    index = out / "index.html"
    index.write_text(
        "<!doctype html><meta charset=utf-8><title>plots</title><ul>\n"
        + "\n".join(links)
        + "\n</ul>\n"
    )
    written.append(index)
    return written
