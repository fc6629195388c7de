"""`suite init`'s profiles (pyarrow compute) against plain Python, and drafts on odd
columns that must pass their own gate in real Great Expectations."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditpipe.gates import draft_suite, run_gate
from auditpipe.gates.draft import write_draft
from auditpipe.gates.profile import CATEGORY_LIMIT, CATEGORY_SHARE, profile_column

EXAMPLE_CSV = Path(__file__).resolve().parents[3] / "examples/wine-quality/data/raw/wine.csv"


def _null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _expected(values: list[Any], numeric: bool, categorical: bool) -> tuple[Any, ...]:
    present = [v for v in values if not _null(v)]
    low = high = None
    if numeric and present and all(math.isfinite(v) for v in present):
        low, high = min(present), max(present)
    found = None
    distinct = set(present)
    if (
        categorical
        and present
        and len(distinct) <= min(CATEGORY_LIMIT, CATEGORY_SHARE * len(present))
    ):
        found = tuple(sorted(distinct))
    return len(values) - len(present), low, high, found


def _profiled(series: pd.Series) -> tuple[Any, ...]:
    column = profile_column("c", series, len(series))
    return column.nulls, column.minimum, column.maximum, column.values


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
small_ints = st.integers(min_value=-(2**62), max_value=2**62) | st.sampled_from([0, 1, 2, 3])
texts = st.sampled_from(["NaN", "nan", "None", "", "null", "NA", "a", "b", "é", " "]) | st.text(
    max_size=3
)


@settings(max_examples=150, deadline=None)
@given(st.lists(floats, min_size=1, max_size=40))
def test_float_columns_nan_is_null_and_ranges_are_finite(values: list[float]) -> None:
    series = pd.Series(values, dtype="float64")
    assert _profiled(series) == _expected(values, numeric=True, categorical=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(small_ints, min_size=1, max_size=40))
def test_integer_columns_get_ranges_and_small_value_sets(values: list[int]) -> None:
    series = pd.Series(values, dtype="int64")
    assert _profiled(series) == _expected(values, numeric=True, categorical=True)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.none() | texts, min_size=1, max_size=40))
def test_string_columns_keep_nan_like_text_as_values(values: list[str | None]) -> None:
    series = pd.Series(values, dtype=object)
    assert _profiled(series) == _expected(values, numeric=False, categorical=True)


def test_columns_with_nothing_to_measure() -> None:
    assert _profiled(pd.Series([None, None], dtype=object)) == (2, None, None, None)
    assert _profiled(pd.Series([np.nan, np.nan])) == (2, None, None, None)
    assert _profiled(pd.Series([], dtype="int64")) == (0, None, None, None)
    mixed = profile_column("m", pd.Series([1, "a", None], dtype=object), 3)
    assert (mixed.nulls, mixed.values) == (1, None)  # Arrow cannot hold it: nulls only
    when = pd.Series(pd.to_datetime(["2020-01-01", None, "2021-06-01"]))
    stamped = profile_column("t", when, 3)
    assert (stamped.nulls, stamped.minimum, stamped.values) == (1, None, None)
    assert stamped.type_name == "datetime64[ns]" or stamped.type_name.startswith("datetime64")


ODD = {
    "all null": pd.DataFrame({"a": [None, None, None], "b": [np.nan] * 3, "c": [1, 2, 3]}),
    "one row": pd.DataFrame({"n": [7], "x": [0.5], "s": ["only"], "flag": [True]}),
    "nan-like text": pd.DataFrame({"s": ["NaN", "nan", "None", "", "NaN", "nan"] * 2}),
    "timestamps": pd.DataFrame(
        {
            "at": pd.to_datetime([dt.datetime(2024, 1, d) for d in range(1, 7)]),
            "utc": pd.to_datetime([dt.datetime(2024, 2, d) for d in range(1, 7)]).tz_localize(
                "UTC"
            ),
            "gap": pd.to_datetime(["2024-01-01", None, "2024-01-03", None, None, "2024-01-09"]),
        }
    ),
    "categories": pd.DataFrame({"g": pd.Categorical(["x", "y", "x", "x", None, "y"])}),
    "infinite": pd.DataFrame({"f": [1.0, np.inf, 2.0, -np.inf]}),
    "nullable": pd.DataFrame(
        {
            "i": pd.array([1, None, 1, 2, 2, 1], dtype="Int64"),
            "b": pd.array([True, None, False, True, True, True], dtype="boolean"),
        }
    ),
}


@pytest.mark.parametrize("label", list(ODD))
def test_a_draft_of_odd_columns_passes_its_own_gate(label: str, tmp_path: Path) -> None:
    data = tmp_path / "odd.parquet"
    ODD[label].to_parquet(data, index=False)
    draft = draft_suite(data, "odd.parquet", name="odd")
    assert draft.dropped == (), draft.dropped  # every proposal holds in GX on this data
    suite = tmp_path / "odd.json"
    write_draft(draft, suite)
    result = run_gate(data, suite, display_data="d", display_suite="s")
    assert result.success, result.failed_expectations
    assert result.statistics["evaluatedExpectations"] == draft.expectations


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.none() | small_ints, floats, st.none() | texts), min_size=1, max_size=12
    )
)
def test_any_small_table_drafts_a_suite_it_passes(
    rows: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    frame = pd.DataFrame(rows, columns=["i", "f", "s"])
    data = tmp_path / "any.parquet"
    frame.to_parquet(data, index=False)
    draft = draft_suite(data, "any.parquet", name="any")
    suite = tmp_path / "any.json"
    write_draft(draft, suite)
    result = run_gate(data, suite, display_data="d", display_suite="s")
    assert result.success, (draft.dropped, result.failed_expectations)


def test_the_example_wine_data_drafts_a_suite_the_gate_passes(tmp_path: Path) -> None:
    raw = pd.read_csv(EXAMPLE_CSV)
    data = tmp_path / "train.parquet"
    raw.to_parquet(data, index=False)
    draft = draft_suite(data, "data/prepared/train.parquet", name="train")
    assert draft.dropped == ()
    assert (draft.rows, draft.columns) == raw.shape
    suite = tmp_path / "train.json"
    write_draft(draft, suite)
    assert run_gate(data, suite, display_data="d", display_suite="s").success
    spoiled = raw.copy()
    spoiled.loc[0, "alcohol"] = -1.0
    spoiled.to_parquet(data, index=False)
    result = run_gate(data, suite, display_data="d", display_suite="s")
    assert not result.success
    assert {f.column for f in result.failed_expectations} == {"alcohol"}
