"""The recorded form of a gate: canonical JSON-safe values, suite order, statistics,
and one-line renderings (pure data: no Great Expectations here)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditpipe.gates.data import GateData
from auditpipe.gates.results import (
    Outcome,
    clean_message,
    describe_failure,
    gate_summary,
    json_safe,
    to_validation,
)
from auditpipe.gates.suite import Expectation, Suite
from auditpipe.manifest.canonical import canonical_bytes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), None),
        (float("inf"), None),
        (np.float64(1.5), 1.5),
        (np.int64(7), 7),
        (np.bool_(True), True),
        (2**60, str(2**60)),
        (pd.NaT, None),
        (pd.NA, None),
        (dt.date(2024, 1, 2), "2024-01-02"),
        ({"b": 1, "a": [np.nan, 2]}, {"a": [None, 2], "b": 1}),
        ({3, 1, 2}, [1, 2, 3]),
        (np.array([1, 2]), [1, 2]),
        ("x" * 500, "x" * 197 + "..."),
    ],
)
def test_json_safe_values_canonicalize(value: Any, expected: Any) -> None:
    safe = json_safe(value)
    assert safe == expected
    canonical_bytes(safe)  # raises on NaN, huge ints, non-JSON types


def test_json_safe_cuts_long_lists_visibly() -> None:
    assert json_safe(list(range(30)), limit=3) == [0, 1, 2, "..."]
    assert json_safe(list(range(30)), limit=None) == list(range(30))


def test_clean_message_drops_paths_and_tracebacks() -> None:
    text = (
        'Error: cannot open "/home/alice/project/.venv/lib/x.py" here\n'
        "Traceback (most recent call last):\n  File ..."
    )
    assert clean_message(text) == 'cannot open "<path>" here'


def _suite(*expectations: tuple[str, dict[str, Any]]) -> Suite:
    return Suite(
        name="wine",
        display="expectations/wine.json",
        sha256="a" * 64,
        expectations=tuple(Expectation(i, t, k) for i, (t, k) in enumerate(expectations)),
        document={},
    )


DATA = GateData(
    display="data/t.parquet",
    sha256="b" * 64,
    format="parquet",
    frame=pd.DataFrame({"alcohol": [1.0], "cultivar": [0]}),
)


def test_failed_expectations_follow_suite_order_and_statistics_count() -> None:
    suite = _suite(
        ("expect_column_values_to_be_between", {"min_value": 0, "column": "alcohol"}),
        ("expect_column_values_to_not_be_null", {"column": "cultivar"}),
        ("expect_column_values_to_be_in_set", {"value_set": [0, 1], "column": "cultivar"}),
        ("expect_column_values_to_not_be_null", {"column": "ghost"}),
    )
    outcomes = [  # GX returns results in an order of its own
        Outcome(3, False, {}, error='The column "ghost" in BatchData does not exist.'),
        Outcome(2, False, {"unexpected_count": 1, "unexpected_percent": 33.333333333}),
        Outcome(1, True, {"unexpected_count": 0}),
        Outcome(0, False, {"observed_value": np.float64(-1.0), "batch_markers": "x"}),
    ]
    validation = to_validation(suite, DATA, outcomes)
    assert not validation.success
    assert [f.type for f in validation.failed_expectations] == [
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_null",
    ]
    first, second, ghost = validation.failed_expectations
    assert list(first.kwargs) == ["column", "min_value"]
    assert first.observed == {"observed_value": -1.0}
    assert second.observed == {"unexpected_count": 1, "unexpected_percent": 33.3333}
    assert ghost.column == "ghost"
    assert ghost.observed == {"missing_columns": ["ghost"]}
    assert validation.statistics == {
        "evaluatedExpectations": 4,
        "successfulExpectations": 1,
        "unsuccessfulExpectations": 3,
        "successPercent": 25.0,
    }
    assert validation.suite_path == "expectations/wine.json"
    assert validation.data_digest.sha256 == "b" * 64


def test_an_expectation_without_a_result_counts_as_failed() -> None:
    suite = _suite(("expect_column_to_exist", {"column": "alcohol"}))
    validation = to_validation(suite, DATA, [])
    assert not validation.success
    assert "error" in validation.failed_expectations[0].observed


def test_renderings_name_expectation_column_and_observation() -> None:
    suite = _suite(
        ("expect_column_values_to_be_between", {"column": "alcohol", "min_value": 10}),
        ("expect_column_mean_to_be_between", {"column": "alcohol", "max_value": 5}),
    )
    outcomes = [
        Outcome(
            0,
            False,
            {
                "element_count": 136,
                "unexpected_count": 3,
                "unexpected_percent": 2.2,
                "partial_unexpected_list": [-1.0, -1.0, -1.0],
            },
        ),
        Outcome(1, False, {"observed_value": 13.1}),
    ]
    validation = to_validation(suite, DATA, outcomes)
    lines = [describe_failure(f) for f in validation.failed_expectations]
    assert lines == [
        "expect_column_values_to_be_between alcohol (min_value=10): "
        "3 unexpected of 136 (2.2%); e.g. -1.0, -1.0, -1.0",
        "expect_column_mean_to_be_between alcohol (max_value=5): observed 13.1",
    ]
    assert gate_summary(validation) == (
        "data/t.parquet: 2 of 2 expectations of expectations/wine.json failed (alcohol)"
    )
    assert math.isclose(validation.statistics["successPercent"], 0.0)
