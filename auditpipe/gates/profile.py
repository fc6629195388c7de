"""Column profiles for ``suite init``, computed with pyarrow compute.

A profile is what the draft's expectations are read off: per column, in file
order, its pandas type name (the name GX's type check accepts for the DataFrame
the gate validates), its null count, its range (integer and floating columns,
when finite) and its distinct values (dictionary, integer and string columns
with few distinct values). Each column of the DataFrame is viewed as an Arrow
array (``from_pandas``: NaN is null, as for pandas and GX) and measured with
``pyarrow.compute`` kernels (``min_max``, ``count_distinct``, ``unique``),
without copying numeric data into Python objects. A column Arrow cannot hold
(mixed Python objects, say) gets its null count from pandas and no range or
value set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from auditpipe.gates.session import untyped

# A column is categorical when it has at most CATEGORY_LIMIT distinct values,
# and they are at most CATEGORY_SHARE of its non-null values (so a short table's
# ids do not become a value set).
CATEGORY_LIMIT = 20
CATEGORY_SHARE = 0.5

Proposal = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class ColumnProfile:
    """What ``suite init`` knows about one column."""

    name: str
    type_name: str | None
    rows: int
    nulls: int
    minimum: int | float | None = None
    maximum: int | float | None = None
    values: tuple[Any, ...] | None = None
    """The distinct non-null values, sorted, when the column is categorical."""


def profile_frame(frame: Any) -> list[ColumnProfile]:
    """Profiles of the columns of ``frame`` (a pandas DataFrame), in order."""
    rows = len(frame)
    return [profile_column(str(label), frame[label], rows) for label in frame.columns]


def profile_column(name: str, series: Any, rows: int) -> ColumnProfile:
    pa, pc = untyped("pyarrow"), untyped("pyarrow.compute")
    type_name = _type_name(series.dtype)
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return ColumnProfile(name, type_name, rows, int(series.isna().sum()))
    nulls = int(array.null_count)
    if nulls == len(array):
        return ColumnProfile(name, type_name, rows, nulls)
    types = pa.types
    categorical = types.is_dictionary(array.type)
    if categorical:  # a pandas Categorical: its values, not its codes
        array = array.dictionary_decode()
    kind = array.type
    low = high = None
    if not categorical and (types.is_integer(kind) or types.is_floating(kind)):
        bounds = pc.min_max(array)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if not (_finite(low) and _finite(high)):
            low = high = None
    values = None
    if categorical or types.is_integer(kind) or _is_text(types, kind):
        distinct = int(pc.count_distinct(array, mode="only_valid").as_py())
        if distinct <= CATEGORY_LIMIT and distinct <= CATEGORY_SHARE * (len(array) - nulls):
            found = pc.unique(array.drop_null()).to_pylist()
            values = tuple(sorted(found, key=_order))
    return ColumnProfile(name, type_name, rows, nulls, low, high, values)


def propose(frame: Any) -> list[Proposal]:
    """Expectations that describe ``frame`` (a pandas DataFrame) as it is."""
    rows = len(frame)
    proposals: list[Proposal] = []
    if rows:
        proposals.append(("expect_table_row_count_to_be_between", {"min_value": 1}))
    for column in profile_frame(frame):
        proposals.extend(expectations_of(column))
    return proposals


def expectations_of(column: ColumnProfile) -> list[Proposal]:
    name = column.name
    found: list[Proposal] = [("expect_column_to_exist", {"column": name})]
    if column.type_name:
        found.append(
            ("expect_column_values_to_be_of_type", {"column": name, "type_": column.type_name})
        )
    if column.rows and column.nulls == 0:
        found.append(("expect_column_values_to_not_be_null", {"column": name}))
    if column.minimum is not None and column.maximum is not None:
        bounds = {"min_value": column.minimum, "max_value": column.maximum}
        found.append(("expect_column_values_to_be_between", {"column": name, **bounds}))
    if column.values is not None:
        found.append(
            (
                "expect_column_values_to_be_in_set",
                {"column": name, "value_set": list(column.values)},
            )
        )
    return found


def _is_text(types: Any, kind: Any) -> bool:
    return bool(types.is_string(kind) or types.is_large_string(kind))


def _type_name(dtype: Any) -> str | None:
    """The type name GX's pandas check accepts for ``dtype``."""
    if isinstance(dtype, untyped("numpy").dtype):
        return str(dtype)
    kind = getattr(dtype, "type", None)
    return kind.__name__ if isinstance(kind, type) else None


def _finite(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _order(value: Any) -> tuple[str, Any]:
    """Sort key: values of one type in their order (mixed types grouped by type)."""
    return (type(value).__name__, value)
