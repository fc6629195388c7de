"""``auditpipe suite init``: draft a starter suite from a data file.

The draft is read off the data with pandas, not GX's profilers: the row count
is at least one, and per column, in file order, the column exists, has its
current type, has no nulls (when it has none now), lies in the observed range
(numeric columns) and takes one of the observed values (low-cardinality
string, categorical and integer columns). The suite is written by GX itself
(``ExpectationSuite.to_json_dict``), checked by the same loader gates use, and
validated on the data it was drafted from; an expectation GX does not confirm
on that data (a dtype GX names differently, say) is left out and reported, so a
fresh draft always passes on its own data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditpipe.errors import ConfigError, GateDataError
from auditpipe.gates.data import GateData, read_data
from auditpipe.gates.results import describe_failure, to_validation
from auditpipe.gates.runner import evaluate
from auditpipe.gates.session import gx_session, untyped
from auditpipe.gates.suite import Suite, suite_from_bytes

# A column is categorical when it has at most CATEGORY_LIMIT distinct values,
# and they are at most CATEGORY_SHARE of its non-null values (so a short table's
# ids do not become a value set).
CATEGORY_LIMIT = 20
CATEGORY_SHARE = 0.5


@dataclass(frozen=True)
class Draft:
    """A drafted suite: its JSON document and what was left out."""

    document: dict[str, Any]
    dropped: tuple[str, ...]
    rows: int
    columns: int

    @property
    def expectations(self) -> int:
        return len(self.document.get("expectations", []))

    def to_json(self) -> str:
        """The suite file's text: GX's JSON, indented, newline-terminated."""
        return json.dumps(self.document, indent=2, ensure_ascii=False) + "\n"


def draft_suite(data_path: Path, display: str, *, name: str) -> Draft:
    """Draft a suite named ``name`` that holds for the data at ``data_path``."""
    data = read_data(data_path, display)
    proposals = propose(data.frame)
    if not proposals:
        raise GateDataError("the data has no columns; there is nothing to draft", path=display)
    document = _gx_document(name, proposals, data)
    suite = _as_suite(document, name)
    outcomes = evaluate(suite, data)
    by_index = {o.index: o for o in outcomes}
    bad = {e.index for e in suite.expectations if not _confirmed(by_index.get(e.index))}
    failed = to_validation(suite, data, outcomes).failed_expectations
    if bad:
        document = {
            **document,
            "expectations": [e for i, e in enumerate(document["expectations"]) if i not in bad],
        }
    dropped = tuple(describe_failure(f) for f in failed)
    return Draft(document, dropped, rows=len(data.frame), columns=len(data.columns))


def _confirmed(outcome: Any) -> bool:
    return outcome is not None and outcome.success and outcome.error is None


def _gx_document(name: str, proposals: list[tuple[str, dict[str, Any]]], data: GateData) -> Any:
    with gx_session() as gx:
        config = untyped("great_expectations.expectations.expectation_configuration")
        make_config = config.ExpectationConfiguration
        suite = gx.ExpectationSuite(
            name=name,
            expectations=[make_config(type=t, kwargs=k) for t, k in proposals],
            meta={"auditpipe": {"drafted_from": data.display, "data_sha256": data.sha256}},
        )
        return suite.to_json_dict()


def _as_suite(document: dict[str, Any], name: str) -> Suite:
    return suite_from_bytes(json.dumps(document).encode(), f"<draft {name}>")


def propose(frame: Any) -> list[tuple[str, dict[str, Any]]]:
    """Expectations that describe ``frame`` (a pandas DataFrame) as it is."""
    rows = len(frame)
    proposals: list[tuple[str, dict[str, Any]]] = []
    if rows:
        proposals.append(("expect_table_row_count_to_be_between", {"min_value": 1}))
    for label in frame.columns:
        proposals.extend(_column(str(label), frame[label], rows))
    return proposals


def _column(column: str, series: Any, rows: int) -> list[tuple[str, dict[str, Any]]]:
    types = untyped("pandas.api.types")
    found: list[tuple[str, dict[str, Any]]] = [("expect_column_to_exist", {"column": column})]
    type_name = _type_name(series.dtype)
    if type_name:
        found.append(("expect_column_values_to_be_of_type", {"column": column, "type_": type_name}))
    values = series.dropna()
    if rows and len(values) == rows:
        found.append(("expect_column_values_to_not_be_null", {"column": column}))
    if values.empty:
        return found
    dtype = series.dtype
    boolean = types.is_bool_dtype(dtype)
    if types.is_numeric_dtype(dtype) and not boolean:
        low, high = _plain(values.min()), _plain(values.max())
        if _finite(low) and _finite(high):
            found.append(
                (
                    "expect_column_values_to_be_between",
                    {"column": column, "min_value": low, "max_value": high},
                )
            )
    categorical = isinstance(dtype, types.CategoricalDtype) or types.is_integer_dtype(dtype)
    categorical = categorical or types.infer_dtype(values, skipna=True) == "string"
    if categorical and not boolean:
        distinct = values.unique()
        if len(distinct) <= CATEGORY_LIMIT and len(distinct) <= CATEGORY_SHARE * len(values):
            found.append(
                (
                    "expect_column_values_to_be_in_set",
                    {"column": column, "value_set": sorted(_plain(v) for v in distinct)},
                )
            )
    return found


def _type_name(dtype: Any) -> str | None:
    """The type name GX's pandas check accepts for ``dtype``."""
    if isinstance(dtype, untyped("numpy").dtype):
        return str(dtype)
    kind = getattr(dtype, "type", None)
    return kind.__name__ if isinstance(kind, type) else None


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _finite(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def write_draft(draft: Draft, path: Path) -> None:
    """Write the suite file (the caller decides about overwriting)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(draft.to_json(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the suite: {exc.strerror or exc}", path=path) from exc
