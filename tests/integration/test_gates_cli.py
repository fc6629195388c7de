"""`auditpipe validate` and `auditpipe suite init` through the real CLI: exit codes,
what is printed, and errors that name the file without a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import auditpipe.cli.gate_cmds  # noqa: F401  (registers `validate` and `suite`)
from tests.conftest import Project, Result
from tests.unit.gates.helpers import FAILING, PASSING, expectation, write_parquet, write_suite

Cli = Callable[..., Result]


@pytest.fixture
def wine(bare_repo: Project) -> Project:
    write_parquet(bare_repo.root / "data/wine.parquet")
    write_suite(bare_repo.root / "expectations/pass.json", PASSING)
    write_suite(bare_repo.root / "expectations/fail.json", FAILING)
    return bare_repo


def test_validate_passing_suite_exits_0(wine: Project, cli: Cli) -> None:
    result = cli("validate", "data/wine.parquet", "--suite", "expectations/pass.json")
    assert result.code == 0, result.err
    assert "4/4 expectations passed" in result.out


def test_validate_failing_suite_exits_1_listing_observed_values(wine: Project, cli: Cli) -> None:
    result = cli("validate", "data/wine.parquet", "--suite", "expectations/fail.json")
    assert result.code == 1
    assert "3 of 4 expectations failed" in result.out
    lines = [line.strip() for line in result.out.splitlines() if line.strip().startswith("- ")]
    assert lines == [
        "- expect_column_values_to_be_between alcohol (max_value=15, min_value=12.5): "
        "2 unexpected of 6 (33.3333%); e.g. 12.4, 12.0",
        "- expect_column_mean_to_be_between proline (max_value=100, min_value=0): observed 895.0",
        '- expect_column_values_to_be_in_set region (value_set=["north", "south"]): '
        "1 unexpected of 6 (16.6667%); e.g. east",
    ]


def test_validate_json_is_the_recorded_form(wine: Project, cli: Cli) -> None:
    result = cli("validate", "data/wine.parquet", "--suite", "expectations/fail.json", "--json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["success"] is False
    assert doc["suitePath"] == "expectations/fail.json"
    assert doc["statistics"]["unsuccessfulExpectations"] == 3
    assert doc["failedExpectations"][2]["observed"]["partial_unexpected_list"] == ["east"]


def test_missing_column_exits_1_not_2(wine: Project, cli: Cli) -> None:
    write_suite(
        wine.root / "expectations/ghost.json",
        [expectation("expect_column_values_to_be_between", column="vintage", min_value=1990)],
    )
    result = cli("validate", "data/wine.parquet", "--suite", "expectations/ghost.json")
    assert result.code == 1
    assert "column not in the data: vintage" in result.out


ERRORS = {
    "missing suite": (["data/wine.parquet", "--suite", "expectations/nope.json"], None, None),
    "malformed suite": (
        ["data/wine.parquet", "--suite", "expectations/bad.json"],
        ("expectations/bad.json", '{"name": "s",\n "expectations": [\n'),
        "expectations/bad.json:3:",
    ),
    "unknown expectation": (
        ["data/wine.parquet", "--suite", "expectations/bad.json"],
        (
            "expectations/bad.json",
            json.dumps({"name": "s", "expectations": [expectation("expect_wine_to_be_red")]}),
        ),
        "'expect_wine_to_be_red'",
    ),
    "missing data": (["data/nope.parquet", "--suite", "expectations/pass.json"], None, None),
    "corrupt data": (
        ["data/bad.parquet", "--suite", "expectations/pass.json"],
        ("data/bad.parquet", "PAR1 not really"),
        "data/bad.parquet: cannot read the file as Parquet",
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_exit_2_naming_the_file(wine: Project, cli: Cli, case: str) -> None:
    args, file, expected = ERRORS[case]
    if file is not None:
        wine.gen({file[0]: file[1]})
    result = cli("validate", *args)
    assert result.code == 2, result.out + result.err
    named = next(a for a in args if "nope" in a or "bad" in a)
    assert f"error: {named}" in result.err
    if expected:
        assert expected in result.err
    assert "Traceback" not in result.err + result.out


def test_suite_init_writes_a_suite_that_passes(wine: Project, cli: Cli) -> None:
    result = cli("suite", "init", "data/wine.parquet", "-o", "expectations/draft.json")
    assert result.code == 0, result.err
    assert "wrote expectations/draft.json" in result.err
    document = json.loads((wine.root / "expectations/draft.json").read_text())
    assert document["name"] == "draft"
    check = cli("validate", "data/wine.parquet", "--suite", "expectations/draft.json")
    assert check.code == 0, check.out

    again = cli("suite", "init", "data/wine.parquet", "-o", "expectations/draft.json")
    assert again.code == 2 and "already exists" in again.err and "--force" in again.err
    forced = cli("suite", "init", "data/wine.parquet", "-o", "expectations/draft.json", "--force")
    assert forced.code == 0


def test_suite_init_prints_when_no_output_is_given(wine: Project, cli: Cli) -> None:
    result = cli("suite", "init", "data/wine.parquet", "--name", "adhoc")
    assert result.code == 0, result.err
    assert json.loads(result.out)["name"] == "adhoc"


def test_suite_init_on_unreadable_data_exits_2(wine: Project, cli: Cli) -> None:
    wine.gen({"data/x.parquet": "nope"})
    result = cli("suite", "init", "data/x.parquet", "-o", "s.json")
    assert result.code == 2
    assert "data/x.parquet" in result.err
    assert not (wine.root / "s.json").exists()
