"""``suite init``'s drafts: what they expect, that GX loads them with its own
loader, and that they pass on the data they were drafted from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from auditpipe.gates import draft_suite, run_gate
from auditpipe.gates.draft import write_draft

MIXED = pd.DataFrame(
    {
        "alcohol": [13.2, 12.4, 14.1, 12.9, 13.7, 12.0, 13.0, 12.2],
        "proline": [1050, 520, 1280, 880, 1190, 450, 910, 600],
        "cultivar": [0, 1, 0, 2, 0, 1, 2, 1],
        "region": ["n", "s", "n", "e", "n", "s", "e", "s"],
        "grade": pd.Categorical(["a", "b", "a", "a", "b", "a", "b", "a"]),
        "sulfites": [0.1, None, 0.3, 0.2, None, 0.1, 0.2, 0.3],
        "note": ["x", None, "y", "z", "w", "v", "u", "t"],
        "organic": [True, False, True, True, False, False, True, False],
        "bottled": pd.to_datetime([dt.date(2020, 1, i + 1) for i in range(8)]),
    }
)


def _by_type(document: dict[str, Any], kind: str) -> dict[str | None, dict[str, Any]]:
    return {
        e["kwargs"].get("column"): e["kwargs"]
        for e in document["expectations"]
        if e["type"] == kind
    }


def _gx_validates(suite_path: Path, frame: pd.DataFrame) -> Any:
    """Load the file the way GX's own expectations store does, validate with plain GX."""
    import great_expectations as gx
    from great_expectations.core.expectation_suite import (
        ExpectationSuite,
        ExpectationSuiteSchema,
    )

    suite = ExpectationSuite(**ExpectationSuiteSchema().loads(suite_path.read_text()))
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    return suite, batch.validate(suite)


def test_draft_describes_the_data_and_passes_on_it_in_plain_gx(tmp_path: Path) -> None:
    data = tmp_path / "mixed.parquet"
    MIXED.to_parquet(data, index=False)
    draft = draft_suite(data, "data/mixed.parquet", name="mixed")
    assert draft.dropped == ()
    assert (draft.rows, draft.columns) == (8, 9)
    document = draft.document
    assert document["name"] == "mixed"
    assert document["meta"]["auditpipe"]["drafted_from"] == "data/mixed.parquet"
    assert set(_by_type(document, "expect_column_to_exist")) == set(MIXED.columns)
    assert set(_by_type(document, "expect_column_values_to_not_be_null")) == (
        set(MIXED.columns) - {"sulfites", "note"}
    )
    ranges = _by_type(document, "expect_column_values_to_be_between")
    assert set(ranges) == {"alcohol", "proline", "cultivar", "sulfites"}
    assert (ranges["alcohol"]["min_value"], ranges["alcohol"]["max_value"]) == (12.0, 14.1)
    sets = _by_type(document, "expect_column_values_to_be_in_set")
    assert sets["cultivar"]["value_set"] == [0, 1, 2]
    assert sets["region"]["value_set"] == ["e", "n", "s"]
    assert sets["grade"]["value_set"] == ["a", "b"]
    assert "note" not in sets and "proline" not in sets  # too many distinct values
    assert _by_type(document, "expect_table_row_count_to_be_between")[None] == {"min_value": 1}

    path = tmp_path / "mixed.json"
    write_draft(draft, path)
    suite, result = _gx_validates(path, pd.read_parquet(data))
    assert len(suite.expectations) == draft.expectations  # GX dropped none while loading
    assert result.success, [r.expectation_config.type for r in result.results if not r.success]
    ours = run_gate(data, path, display_data="d", display_suite="s")
    assert ours.success and ours.statistics["evaluatedExpectations"] == draft.expectations


def test_draft_from_csv_catches_drift_in_new_data(tmp_path: Path) -> None:
    data = tmp_path / "wine.csv"
    pacsv.write_csv(pa.Table.from_pandas(MIXED[["alcohol", "cultivar", "region"]]), data)
    path = tmp_path / "wine.json"
    write_draft(draft_suite(data, "wine.csv", name="wine"), path)
    assert run_gate(data, path, display_data="d", display_suite="s").success

    drifted = tmp_path / "drifted.parquet"
    frame = pd.read_csv(data)
    frame.loc[0, "alcohol"] = -1.0
    frame.loc[1, "cultivar"] = 9
    pq.write_table(pa.Table.from_pandas(frame), drifted)
    result = run_gate(drifted, path, display_data="d", display_suite="s")
    assert {f.column for f in result.failed_expectations} == {"alcohol", "cultivar"}
