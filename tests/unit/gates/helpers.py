"""Building blocks for gate tests: real Parquet data and suites in GX's JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

WINE = {
    "alcohol": [13.2, 12.4, 14.1, 12.9, 13.7, 12.0],
    "proline": [1050, 520, 1280, 880, 1190, 450],
    "cultivar": [0, 1, 0, 2, 0, 1],
    "region": ["north", "south", "north", "east", "north", "south"],
}


def write_parquet(path: Path, columns: dict[str, list[Any]] | None = None) -> Path:
    """Write ``columns`` (default: a small wine table) as Parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns or WINE), path)
    return path


def expectation(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {}}


def write_suite(path: Path, expectations: list[dict[str, Any]], name: str = "wine") -> Path:
    """A suite file in the JSON Great Expectations 1.x writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"name": name, "expectations": expectations, "meta": {}}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


PASSING = [
    expectation("expect_table_row_count_to_be_between", min_value=1, max_value=100),
    expectation("expect_column_values_to_not_be_null", column="alcohol"),
    expectation("expect_column_values_to_be_between", column="alcohol", min_value=10, max_value=15),
    expectation("expect_column_values_to_be_in_set", column="cultivar", value_set=[0, 1, 2]),
]

FAILING = [
    expectation(
        "expect_column_values_to_be_between", column="alcohol", min_value=12.5, max_value=15
    ),
    expectation("expect_column_values_to_not_be_null", column="alcohol"),
    expectation("expect_column_mean_to_be_between", column="proline", min_value=0, max_value=100),
    expectation("expect_column_values_to_be_in_set", column="region", value_set=["north", "south"]),
]
