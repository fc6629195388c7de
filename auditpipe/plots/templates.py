"""DVC's plot templates as Vega-Lite specs (the chart drawing itself is Vega's).

Templates: ``linear`` (default), ``simple``, ``scatter``, ``smooth``,
``confusion``, ``confusion_normalized``, ``bar_horizontal``,
``bar_horizontal_sorted``. Records carry ``rev`` and ``filename`` fields so
several revisions or files share one chart, told apart by colour.
"""

from __future__ import annotations

from typing import Any

from auditpipe.errors import ConfigError

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
TEMPLATES = (
    "linear",
    "simple",
    "scatter",
    "smooth",
    "confusion",
    "confusion_normalized",
    "bar_horizontal",
    "bar_horizontal_sorted",
)


def vega_lite(
    template: str,
    records: list[dict[str, Any]],
    *,
    x: str,
    y: str,
    title: str,
    x_label: str | None = None,
    y_label: str | None = None,
) -> dict[str, Any]:
    """A Vega-Lite spec drawing ``records`` as DVC's ``template`` would."""
    if template not in TEMPLATES:
        raise ConfigError(
            f"unknown plot template {template!r}", hint=f"use one of {', '.join(TEMPLATES)}"
        )
    base: dict[str, Any] = {
        "$schema": SCHEMA,
        "title": title,
        "data": {"values": records},
        "width": 400,
        "height": 300,
    }
    color = {"field": "series", "type": "nominal", "title": None}
    xq = {"field": x, "type": "quantitative", "title": x_label or x}
    yq = {"field": y, "type": "quantitative", "title": y_label or y}
    if template.startswith("confusion"):
        count: dict[str, Any] = {"aggregate": "count", "type": "quantitative"}
        transform: list[dict[str, Any]] = []
        if template == "confusion_normalized":
            transform = [
                {"joinaggregate": [{"op": "count", "as": "total"}], "groupby": ["series", x]},
                {"calculate": "1 / datum.total", "as": "share"},
            ]
            count = {"aggregate": "sum", "field": "share", "type": "quantitative"}
        return {
            **base,
            "transform": transform,
            "facet": {"field": "series", "type": "nominal"},
            "spec": {
                "mark": "rect",
                "encoding": {
                    "x": {"field": y, "type": "nominal", "title": y_label or y},
                    "y": {"field": x, "type": "nominal", "title": x_label or x},
                    "color": count,
                },
            },
            "data": {"values": records},
        }
    if template.startswith("bar_horizontal"):
        sort = "-x" if template.endswith("sorted") else None
        return {
            **base,
            "mark": "bar",
            "encoding": {
                "x": xq,
                "y": {"field": y, "type": "nominal", "sort": sort, "title": y_label or y},
                "color": color,
            },
        }
    if template == "scatter":
        return {**base, "mark": "point", "encoding": {"x": xq, "y": yq, "color": color}}
    encoding = {"x": xq, "y": yq, "color": color}
    if template == "smooth":
        return {
            **base,
            "transform": [{"loess": y, "on": x, "groupby": ["series"], "bandwidth": 0.3}],
            "mark": "line",
            "encoding": encoding,
        }
    return {**base, "mark": {"type": "line", "point": template == "simple"}, "encoding": encoding}
