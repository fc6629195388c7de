"""run_gate on real files with real Great Expectations: what is recorded, that it
is reproducible to the byte, that it is quiet and leaves nothing behind, and
that unusable data is a GateDataError naming the file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pytest

from auditpipe.errors import GateDataError
from auditpipe.gates import run_gate
from auditpipe.manifest.canonical import canonical_bytes
from auditpipe.manifest.predicates import Validation
from tests.unit.gates.helpers import FAILING, PASSING, WINE, expectation, write_parquet, write_suite


def gate(data: Path, suite: Path) -> Validation:
    return run_gate(data, suite, display_data="data/wine.parquet", display_suite="exp/wine.json")


def test_passing_suite_records_digests_and_statistics(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "wine.parquet")
    suite = write_suite(tmp_path / "wine.json", PASSING)
    result = run_gate(data, suite, display_data="data/wine.parquet", display_suite="exp/wine.json")
    assert result.success
    assert result.failed_expectations == []
    assert result.suite == "wine"
    assert (result.data, result.suite_path) == ("data/wine.parquet", "exp/wine.json")
    assert result.data_digest.sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    assert result.suite_digest.sha256 == hashlib.sha256(suite.read_bytes()).hexdigest()
    assert result.statistics == {
        "evaluatedExpectations": 4,
        "successfulExpectations": 4,
        "unsuccessfulExpectations": 0,
        "successPercent": 100.0,
    }


def test_failing_suite_records_each_failure_with_what_was_observed(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "wine.parquet")
    suite = write_suite(tmp_path / "wine.json", FAILING)
    result = run_gate(data, suite, display_data="data/wine.parquet", display_suite="exp/wine.json")
    assert not result.success
    failed = {f.type: f for f in result.failed_expectations}
    assert [f.type for f in result.failed_expectations] == [  # suite order
        "expect_column_values_to_be_between",
        "expect_column_mean_to_be_between",
        "expect_column_values_to_be_in_set",
    ]
    between = failed["expect_column_values_to_be_between"]
    assert between.column == "alcohol"
    assert between.kwargs == {"column": "alcohol", "max_value": 15, "min_value": 12.5}
    assert between.observed == {
        "element_count": 6,
        "missing_count": 0,
        "unexpected_count": 2,
        "unexpected_percent": 33.3333,
        "partial_unexpected_list": [12.4, 12.0],
    }
    assert failed["expect_column_mean_to_be_between"].observed == {
        "observed_value": pytest.approx(sum(WINE["proline"]) / 6)
    }
    assert failed["expect_column_values_to_be_in_set"].observed["partial_unexpected_list"] == [
        "east"
    ]
    assert result.statistics["unsuccessfulExpectations"] == 3
    assert result.statistics["successPercent"] == 25.0


def test_same_gate_twice_is_byte_identical(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "wine.parquet")
    suite = write_suite(tmp_path / "wine.json", [*FAILING, *PASSING])
    first = canonical_bytes(gate(data, suite).model_dump(by_alias=True, mode="json"))
    second = canonical_bytes(gate(data, suite).model_dump(by_alias=True, mode="json"))
    assert first == second
    for noise in (b"ge_load_time", b"pandas_data_fingerprint", b"batch_id", b"Traceback", b"/tmp"):
        assert noise not in first


SET_LIKE = [  # results GX derives from sets: their order must not follow the hash seed
    expectation("expect_column_distinct_values_to_be_in_set", column="region", value_set=["n"]),
    expectation("expect_column_distinct_values_to_equal_set", column="region", value_set=["x"]),
    expectation("expect_table_columns_to_match_set", column_set=["a", "region"]),
    expectation("expect_column_most_common_value_to_be_in_set", column="region", value_set=["x"]),
    expectation("expect_column_values_to_be_unique", column="region"),
]

IN_ANOTHER_PROCESS = """\
import sys
from pathlib import Path
from auditpipe.gates import run_gate
from auditpipe.manifest.canonical import canonical_bytes
v = run_gate(Path(sys.argv[1]), Path(sys.argv[2]), display_data="d", display_suite="s")
sys.stdout.write(canonical_bytes(v.model_dump(by_alias=True, mode="json")).decode())
"""


def test_same_gate_in_another_process_is_byte_identical(tmp_path: Path) -> None:
    regions = ["north", "south", "east", "west", "x", "y", "z", "q"] * 3
    data = write_parquet(tmp_path / "r.parquet", {"region": regions, "v": list(range(24))})
    suite = write_suite(tmp_path / "r.json", SET_LIKE)
    here = canonical_bytes(
        run_gate(data, suite, display_data="d", display_suite="s").model_dump(
            by_alias=True, mode="json"
        )
    )
    other = subprocess.run(
        [sys.executable, "-c", IN_ANOTHER_PROCESS, str(data), str(suite)],
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        check=True,
    )
    assert other.stdout == here


def test_missing_column_is_a_failed_expectation_not_a_crash(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "wine.parquet")
    suite = write_suite(
        tmp_path / "wine.json",
        [
            expectation("expect_column_values_to_not_be_null", column="vintage"),
            expectation("expect_column_mean_to_be_between", column="vintage", min_value=1),
            expectation("expect_column_to_exist", column="vintage"),
            expectation("expect_column_values_to_not_be_null", column="alcohol"),
        ],
    )
    result = run_gate(data, suite, display_data="d", display_suite="s")
    assert not result.success
    assert len(result.failed_expectations) == 3
    for failure in result.failed_expectations:
        assert failure.column == "vintage"
        assert failure.observed == {"missing_columns": ["vintage"]}


def test_nulls_are_recorded_as_json_null(tmp_path: Path) -> None:
    data = write_parquet(
        tmp_path / "n.parquet", {"x": [1.0, None, float("nan")], "s": ["a", None, "b"]}
    )
    suite = write_suite(
        tmp_path / "n.json",
        [
            expectation("expect_column_values_to_not_be_null", column="x"),
            expectation("expect_column_values_to_not_be_null", column="s"),
        ],
    )
    result = run_gate(data, suite, display_data="d", display_suite="s")
    observed = [f.observed for f in result.failed_expectations]
    assert observed[0]["partial_unexpected_list"] == [None, None]
    assert observed[1]["partial_unexpected_list"] == [None]
    canonical_bytes(result.model_dump(by_alias=True, mode="json"))


def test_quiet_and_leaves_no_gx_project_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    data = write_parquet(tmp_path / "wine.parquet")
    suite = write_suite(tmp_path / "wine.json", FAILING)
    before = sorted(os.listdir(tmp_path))
    capfd.readouterr()
    run_gate(data, suite, display_data="d", display_suite="s")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""  # no progress bars, no GX logging
    assert sorted(os.listdir(tmp_path)) == before
    assert not (tmp_path / "gx").exists() and not (tmp_path / "great_expectations").exists()


def _formats(tmp_path: Path) -> dict[str, Path]:
    table = pa.table(WINE)
    paths = {name: tmp_path / name for name in ("w.csv", "w.tsv", "w.feather", "w.arrows")}
    pacsv.write_csv(table, paths["w.csv"])
    pacsv.write_csv(table, paths["w.tsv"], pacsv.WriteOptions(delimiter="\t"))
    feather.write_feather(table, paths["w.feather"])
    with pa.ipc.new_stream(paths["w.arrows"], table.schema) as writer:
        writer.write_table(table)
    gz = tmp_path / "w.csv.gz"
    with pa.CompressedOutputStream(gz, "gzip") as out:
        pacsv.write_csv(table, out)
    paths["w.csv.gz"] = gz
    return paths


def test_csv_tsv_compressed_and_arrow_formats(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "wine.json", PASSING)
    for name, path in _formats(tmp_path).items():
        result = run_gate(path, suite, display_data=name, display_suite="s")
        assert result.success, (name, result.failed_expectations)
        assert result.data_digest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.parquet", None, "data file not found"),
        ("corrupt.parquet", b"PAR1 this is not parquet", "cannot read the file as Parquet"),
        ("corrupt.feather", b"ARROW1\x00\x00garbage", "cannot read the file as Arrow/Feather"),
        ("empty.csv", b"", "cannot read the file as CSV"),
        ("notes.txt", b"a,b\n1,2\n", "cannot tell the table format"),
    ],
)
def test_unusable_data_is_a_gate_data_error(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    suite = write_suite(tmp_path / "wine.json", PASSING)
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(GateDataError) as caught:
        run_gate(path, suite, display_data=f"data/{name}", display_suite="s")
    assert message in caught.value.message
    assert caught.value.path == f"data/{name}"
    assert str(tmp_path) not in caught.value.diagnostics()


def test_truncated_parquet_and_directory(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "wine.json", PASSING)
    data = write_parquet(tmp_path / "wine.parquet")
    data.write_bytes(data.read_bytes()[:-20])
    with pytest.raises(GateDataError, match="Parquet"):
        run_gate(data, suite, display_data="d.parquet", display_suite="s")
    with pytest.raises(GateDataError, match="directory"):
        run_gate(tmp_path, suite, display_data="data", display_suite="s")
