"""Data drift between the model in production and this one, from recorded table profiles.

Compares the source and intermediate tables of two lineages by path. Numeric
columns with recorded deciles give a PSI over the production deciles; categorical columns with
recorded top-k frequencies give the total shift in category shares. Without
histograms on both sides it says so rather than guessing from min and max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from auditpipe.provenance.lineage import Lineage

NO_HISTOGRAM = "no histogram recorded"


@dataclass(frozen=True)
class DriftView:
    table: str
    column: str
    measure: str
    value: str
    note: str


def _tables(lineage: Lineage) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for node in lineage.all_runs():
        for material in node.run.materials if node.run else []:
            if material.table:
                tables.setdefault(material.name, material.table)
    return tables


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index of two histograms over the same bins."""
    total_e, total_a = sum(expected) or 1.0, sum(actual) or 1.0
    value = 0.0
    for e, a in zip(expected, actual, strict=False):
        pe, pa = max(e / total_e, 1e-4), max(a / total_a, 1e-4)
        value += (pa - pe) * math.log(pa / pe)
    return value


def quantile_psi(before: list[float], now: list[float]) -> float:
    """PSI over the production deciles: each holds 10% of the old data; the share
    of the new data in each is read off the new deciles (linear between them)."""
    edges = before
    cdf = [_cdf(now, edge) for edge in edges]
    expected = [1.0 / (len(edges) - 1)] * (len(edges) - 1)
    actual = [max(0.0, cdf[i + 1] - cdf[i]) for i in range(len(edges) - 1)]
    actual[0] += cdf[0]  # below the old minimum
    actual[-1] += 1.0 - cdf[-1]  # above the old maximum
    return psi(expected, actual)


def _cdf(quantiles: list[float], x: float) -> float:
    """The share of values <= x, interpolated from evenly spaced quantiles."""
    steps = len(quantiles) - 1
    if x < quantiles[0]:
        return 0.0
    if x >= quantiles[-1]:
        return 1.0
    for i in range(steps):
        low, high = quantiles[i], quantiles[i + 1]
        if low <= x < high:
            return (i + (x - low) / (high - low)) / steps
    return 1.0


def lineage_drift(before: Lineage, now: Lineage) -> list[DriftView]:
    """Per column of each table both lineages read: PSI, category shift, or why not."""
    old, new = _tables(before), _tables(now)
    views: list[DriftView] = []
    for name in sorted(set(old) & set(new)):
        a = old[name].get("profile") or {}
        b = new[name].get("profile") or {}
        if not a or not b:
            views.append(DriftView(name, "", "", "", NO_HISTOGRAM))
            continue
        for column in sorted(set(a) & set(b)):
            views.append(_column(name, column, a[column], b[column]))
    return views


def _column(table: str, column: str, a: dict[str, Any], b: dict[str, Any]) -> DriftView:
    if "quantiles" in a and "quantiles" in b and len(a["quantiles"]) == len(b["quantiles"]) > 2:
        value = quantile_psi(a["quantiles"], b["quantiles"])
        note = "stable" if value < 0.1 else ("moderate shift" if value < 0.25 else "major shift")
        return DriftView(table, column, "PSI", f"{value:.3f}", note)
    if "top" in a and "top" in b:
        ta, tb = _shares(a["top"]), _shares(b["top"])
        shift = 0.5 * sum(abs(ta.get(k, 0.0) - tb.get(k, 0.0)) for k in set(ta) | set(tb))
        return DriftView(
            table, column, "category shift", f"{shift:.3f}", "share of rows that moved"
        )
    return DriftView(table, column, "", "", NO_HISTOGRAM)


def _shares(top: list[list[Any]]) -> dict[str, float]:
    total = sum(float(count) for _value, count in top) or 1.0
    return {str(value): float(count) / total for value, count in top}
