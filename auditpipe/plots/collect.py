"""Which plots a pipeline declares, and their Vega-Lite specs at one or more revisions.

A dvc.yaml's top-level ``plots:`` give an id, files with their ``y`` column,
``x`` and a template; a stage's ``plots:`` files are plots of their own with
DVC's defaults (x: the row index ``step``, y: the last numeric column).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditpipe.errors import ConfigError
from auditpipe.pipeline.stage import PipelineSpec
from auditpipe.plots.data import read_records
from auditpipe.plots.templates import vega_lite
from auditpipe.suggest import did_you_mean

Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class PlotDef:
    """One declared plot."""

    id: str
    files: tuple[tuple[str, str | None], ...]
    x: str | None = None
    template: str = "linear"
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None


def definitions(spec: PipelineSpec) -> list[PlotDef]:
    """Every plot the pipeline declares, top-level ones first."""
    found: list[PlotDef] = []
    for plot in spec.plots:
        found.append(_from_mapping(plot))
    covered = {path for d in found for path, _ in d.files}
    for stage in spec.stages.values():
        for path in stage.plots:
            if path not in covered:
                found.append(PlotDef(id=path, files=((path, None),)))
                covered.add(path)
    return found


def _from_mapping(plot: Mapping[str, Any]) -> PlotDef:
    files = tuple((str(p), y if isinstance(y, str) else None) for p, y in plot["files"].items())
    text = {k: plot.get(k) for k in ("x", "title", "x_label", "y_label")}
    return PlotDef(
        id=str(plot["id"]),
        files=files,
        x=text["x"] if isinstance(text["x"], str) else None,
        template=str(plot.get("template") or "linear"),
        title=text["title"] if isinstance(text["title"], str) else None,
        x_label=text["x_label"] if isinstance(text["x_label"], str) else None,
        y_label=text["y_label"] if isinstance(text["y_label"], str) else None,
    )


def select(plots: list[PlotDef], targets: Sequence[str]) -> list[PlotDef]:
    """The plots named by id or by one of their files (all when no targets)."""
    if not targets:
        return plots
    chosen = []
    for target in targets:
        match = [p for p in plots if p.id == target or any(f == target for f, _ in p.files)]
        if not match:
            names = [p.id for p in plots]
            raise ConfigError(
                f"no plot named {target!r}",
                hint=did_you_mean(target, names) or f"declared: {', '.join(names) or 'none'}",
            )
        chosen += [p for p in match if p not in chosen]
    return chosen


def build(plot: PlotDef, sources: Sequence[tuple[str, Reader]]) -> tuple[dict[str, Any], list[str]]:
    """The plot's Vega-Lite spec over ``(revision label, reader)`` sources, and what was missing."""
    records: list[dict[str, Any]] = []
    missing: list[str] = []
    x, y = plot.x, None
    for label, read in sources:
        for path, column in plot.files:
            data = read(path)
            if data is None:
                missing.append(f"{path} at {label}")
                continue
            rows = read_records(data, path)
            column = column or _last_numeric(rows, x)
            if column is None:
                continue
            y = y or column
            series = path if len(sources) == 1 else f"{label}: {path}"
            for i, row in enumerate(rows):
                record = {**row, "step": row.get("step", i), "series": series}
                record[y] = row.get(column)
                records.append(record)
    if y is None:
        raise ConfigError(
            f"plot {plot.id!r} has no data to draw",
            hint="run the stage that writes it, or check its files exist",
        )
    spec = vega_lite(
        plot.template,
        records,
        x=x or "step",
        y=y,
        title=plot.title or plot.id,
        x_label=plot.x_label,
        y_label=plot.y_label,
    )
    return spec, missing


def _last_numeric(rows: list[dict[str, Any]], x: str | None) -> str | None:
    if not rows:
        return None
    numeric = [
        k
        for k, v in rows[0].items()
        if k != x and isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return numeric[-1] if numeric else None
