"""Suite files: exactly the JSON Great Expectations 1.x writes is accepted, and
every way a suite can be wrong is a SuiteError naming the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditpipe.errors import SuiteError
from auditpipe.gates import load_suite, run_gate
from tests.unit.gates.helpers import PASSING, expectation, write_parquet, write_suite


def test_accepts_the_suite_file_a_gx_file_context_writes(tmp_path: Path) -> None:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="file", project_root_dir=tmp_path / "gxproject")
    suite = context.suites.add(gx.ExpectationSuite(name="wine"))
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column="alcohol"))
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="cultivar", value_set=[0, 1, 2], notes="classes")
    )
    written = next((tmp_path / "gxproject").rglob("expectations/wine.json"))
    document = json.loads(written.read_text())
    assert document["id"] and all(e["id"] for e in document["expectations"])  # GX's own ids

    loaded = load_suite(written, "wine.json")
    assert loaded.name == "wine"
    assert [e.type for e in loaded.expectations] == [
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_set",
    ]
    data = write_parquet(tmp_path / "t.parquet")
    result = run_gate(data, written, display_data="t.parquet", display_suite="wine.json")
    assert result.success, result.failed_expectations


def test_reads_name_kwargs_digest_and_lines(tmp_path: Path) -> None:
    path = write_suite(tmp_path / "s.json", PASSING)
    suite = load_suite(path, "expectations/s.json")
    assert suite.name == "wine"
    assert suite.display == "expectations/s.json"
    import hashlib

    assert suite.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert suite.expectations[2].kwargs == {"column": "alcohol", "min_value": 10, "max_value": 15}
    lines = path.read_text().splitlines()
    for e in suite.expectations:
        assert e.line is not None and e.type in lines[e.line - 1]


BAD = {
    "malformed": (
        '{"name": "s",\n "expectations": [\n  {"type": "x"\n ]\n}\n',
        "not valid JSON",
        4,
    ),
    "not an object": ("[1, 2]\n", "must be a JSON object", 1),
    "unknown type": (
        json.dumps(
            {
                "name": "s",
                "expectations": [
                    expectation("expect_column_values_to_not_be_null", column="a"),
                    expectation("expect_column_values_to_be_purple", column="a"),
                ],
            },
            indent=1,
        ),
        "unknown expectation type 'expect_column_values_to_be_purple' (expectation 2)",
        12,  # the line of its "type"
    ),
    "bad kwargs": (
        json.dumps(
            {
                "name": "s",
                "expectations": [
                    expectation("expect_column_values_to_be_between", column="a", lowest=1)
                ],
            }
        ),
        "invalid arguments for expect_column_values_to_be_between (expectation 1)",
        1,
    ),
    "gx 0.x format": (
        '{\n"expectation_suite_name": "s",\n"expectations": [{"expectation_type": '
        '"expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}]}',
        "not a Great Expectations suite",
        3,
    ),
    "no name": ('{"expectations": []}', 'no "name"', 1),
    "empty": ('{"name": "s", "expectations": []}', "no expectations", 1),
    "NaN bound": (
        '{"name": "s", "expectations": [\n{"type": "expect_column_values_to_be_between", '
        '"kwargs": {"column": "a", "min_value": NaN}}]}',
        "NaN is not a JSON number",
        2,
    ),
    "not utf-8": (b'{"name": "\xff"}', "not UTF-8", 1),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_suites_are_suite_errors_with_file_and_line(tmp_path: Path, case: str) -> None:
    content, message, line = BAD[case]
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(SuiteError) as caught:
        load_suite(path, "expectations/bad.json")
    assert message in caught.value.message
    assert caught.value.path == "expectations/bad.json"
    assert caught.value.line == line
    assert caught.value.exit_code == 2


ODD_SHAPES = [
    {"name": "s", "expectations": [{"type": "expect_table_row_count_to_be_between"}]},
    {"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": None}]},
    {"name": "s", "expectations": [{"kwargs": {}}]},
    {"name": "s", "expectations": [1]},
    {"name": "s", "expectations": {}},
    {"name": 5, "expectations": []},
    {"name": "s", "meta": [], "expectations": []},
    {"name": "s", "expectations": [{"type": 3, "kwargs": {}}]},
    {"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {}, "id": "x"}]},
    {"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": 1}}]},
]


@pytest.mark.parametrize("document", ODD_SHAPES, ids=lambda d: json.dumps(d)[:60])
def test_odd_shapes_are_suite_errors_never_crashes(tmp_path: Path, document: object) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SuiteError) as caught:
        load_suite(path, "odd.json")
    assert caught.value.path == "odd.json"


def test_unknown_type_suggests_the_close_name(tmp_path: Path) -> None:
    path = write_suite(tmp_path / "s.json", [expectation("expect_column_values_to_not_be_nul")])
    with pytest.raises(SuiteError) as caught:
        load_suite(path, "s.json")
    assert "did you mean 'expect_column_values_to_not_be_null'?" in (caught.value.hint or "")


def test_gx_0x_suite_gets_a_migration_hint(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text('{"expectation_suite_name": "s", "expectations": []}')
    with pytest.raises(SuiteError) as caught:
        load_suite(path, "old.json")
    assert "0.x" in (caught.value.hint or "")


def test_missing_suite_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="not found") as caught:
        load_suite(tmp_path / "nope.json", "expectations/nope.json")
    assert caught.value.path == "expectations/nope.json"
    assert "suite init" in (caught.value.hint or "")
    with pytest.raises(SuiteError, match="directory"):
        load_suite(tmp_path, "expectations")
