"""Gates inside `auditpipe run`: a stage's `validate` suites run on what its
command wrote, the results are signed into its run, and a failed gate records a
`gate_failed` run that stops the stages downstream."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import auditpipe.cli.gate_cmds  # noqa: F401  (registers `validate` and `suite`)
from tests.conftest import Project, Result, run_auditpipe
from tests.unit.gates.helpers import expectation, write_suite

Cli = Callable[..., Result]
PY = shlex.quote(sys.executable)

PIPELINE = f"""\
params: params.yaml
stages:
  make:
    cmd: {PY} steps/make.py
    deps: [steps/make.py]
    params: [make.bad]
    outs: [data/wine.parquet]
    validate:
      data/wine.parquet: expectations/wine.json
  summarize:
    cmd: {PY} steps/summarize.py
    deps: [steps/summarize.py, data/wine.parquet]
    outs: [out/summary.txt]
"""

MAKE = """\
import pathlib
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

bad = yaml.safe_load(open("params.yaml"))["make"]["bad"]
pathlib.Path("data").mkdir(exist_ok=True)
table = pa.table({
    "alcohol": [13.2, 12.4, 14.1, 12.9, 13.7, 12.0] + [-1.0] * bad,
    "cultivar": [0, 1, 0, 2, 0, 1] + [9] * bad,
})
pq.write_table(table, "data/wine.parquet")
"""

SUMMARIZE = """\
import pathlib
import pyarrow.parquet as pq

pathlib.Path("out").mkdir(exist_ok=True)
pathlib.Path("out/summary.txt").write_text(str(pq.read_metadata("data/wine.parquet").num_rows))
"""

SUITE = [
    expectation("expect_table_row_count_to_be_between", min_value=1, max_value=100),
    expectation("expect_column_values_to_be_between", column="alcohol", min_value=10, max_value=15),
    expectation("expect_column_values_to_be_in_set", column="cultivar", value_set=[0, 1, 2]),
]


@pytest.fixture
def pipeline(project: Project) -> Project:
    project.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "params.yaml": "make:\n  bad: 0\n",
            "steps/make.py": MAKE,
            "steps/summarize.py": SUMMARIZE,
            ".gitignore": "data/\nout/\n",
        }
    )
    write_suite(project.root / "expectations/wine.json", SUITE)
    project.commit("pipeline with a gate")
    return project


def runs(cli: Cli, stage: str) -> list[dict[str, Any]]:
    """Statements of ``stage``'s runs, newest first."""
    log = cli("log", "--stage", stage, "--json")
    assert log.code == 0, log.err
    statements = []
    for row in json.loads(log.out):
        shown = cli("show", row["id"], "--json")
        statements.append({"id": row["id"], **json.loads(shown.out)["statement"]})
    return statements


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failed_gate_is_signed_as_gate_failed_and_stops_downstream(
    pipeline: Project, cli: Cli
) -> None:
    first = cli("run")
    assert first.code == 0, first.err
    good = runs(cli, "make")[0]
    assert good["predicate"]["status"] == "succeeded"
    (validation,) = good["predicate"]["validations"]
    assert validation["success"] is True
    assert validation["suitePath"] == "expectations/wine.json"
    assert validation["suiteDigest"]["sha256"] == sha256(pipeline.root / "expectations/wine.json")
    assert validation["dataDigest"] == good["subject"][0]["digest"]

    pipeline.gen({"params.yaml": "make:\n  bad: 2\n"})
    second = cli("run")
    assert second.code == 1
    assert "data/wine.parquet: 2 of 3 expectations of expectations/wine.json failed" in second.err
    assert "gate failed" in second.err and "not run" in second.err
    assert "upstream make did not succeed" in second.err

    failed = runs(cli, "make")[0]
    predicate = failed["predicate"]
    assert predicate["status"] == "gate_failed"
    assert predicate["exitCode"] == 0
    assert failed["subject"] == []  # nothing can be promoted from it
    assert [p["name"] for p in predicate["products"]] == ["data/wine.parquet"]
    (validation,) = predicate["validations"]
    assert validation["success"] is False
    held = pipeline.root / ".git/auditpipe/quarantine" / failed["id"] / "data/wine.parquet"
    assert validation["dataDigest"]["sha256"] == sha256(held)  # quarantined, not in the tree
    observed = {f["column"]: f["observed"] for f in validation["failedExpectations"]}
    assert observed["alcohol"]["partial_unexpected_list"] == [-1, -1]
    assert observed["cultivar"]["partial_unexpected_list"] == [9, 9]
    assert len(runs(cli, "summarize")) == 1  # the downstream stage did not run again

    show = cli("show", failed["id"][:12])
    assert show.code == 0
    assert '"status": "gate_failed"' in show.out
    assert '"failedExpectations"' in show.out and '"partial_unexpected_list"' in show.out
    assert '"type": "expect_column_values_to_be_in_set"' in show.out

    status = cli("status")
    assert "make: stale" in status.out
    assert cli("verify", "--ledger").code == 0
    for leftover in ("gx", "great_expectations"):
        assert not (pipeline.root / leftover).exists()
        assert not (pipeline.root / "data" / leftover).exists()


def test_editing_the_suite_reruns_its_validation(pipeline: Project, cli: Cli) -> None:
    assert cli("run").code == 0
    before = runs(cli, "make")[0]["predicate"]["validations"][0]["suiteDigest"]["sha256"]

    write_suite(
        pipeline.root / "expectations/wine.json",
        [*SUITE, expectation("expect_column_values_to_not_be_null", column="alcohol")],
    )
    status = cli("status")
    assert "validation suite expectations/wine.json changed" in status.out
    again = cli("run")
    assert again.code == 0, again.err
    latest = runs(cli, "make")
    assert len(latest) == 2
    validation = latest[0]["predicate"]["validations"][0]
    assert validation["suiteDigest"]["sha256"] == sha256(pipeline.root / "expectations/wine.json")
    assert validation["suiteDigest"]["sha256"] != before
    assert validation["statistics"]["evaluatedExpectations"] == 4
    assert len(runs(cli, "summarize")) == 1  # same data out, so downstream is still up to date


def test_a_broken_suite_stops_the_run_before_the_command(pipeline: Project, cli: Cli) -> None:
    pipeline.gen({"expectations/wine.json": '{"name": "wine",\n "expectations": [\n  {"type"\n'})
    result = cli("run")
    assert result.code == 2
    assert "expectations/wine.json:4: suite is not valid JSON" in result.err
    assert "Traceback" not in result.err
    assert not (pipeline.root / "data/wine.parquet").exists()  # the command never ran
    assert runs(cli, "make") == []


def test_output_the_gate_cannot_read_fails_the_run(pipeline: Project, cli: Cli) -> None:
    # Fingerprinting accepts any bytes under a name it does not know; the gate cannot.
    pipeline.gen(
        {
            "auditpipe.yaml": PIPELINE.replace("data/wine.parquet", "data/wine.dat"),
            "steps/make.py": "open('data/wine.dat', 'w').write('not a table')\n",
        }
    )
    (pipeline.root / "data").mkdir(exist_ok=True)
    result = cli("run", "make")
    assert result.code == 1
    assert "validation could not run: data/wine.dat: cannot tell the table format" in result.err
    (run,) = runs(cli, "make")
    assert run["predicate"]["status"] == "failed"
    assert run["subject"] == []


CHECK_IMPORTS = """\
import sys
import auditpipe.cli.gate_cmds
from auditpipe.cli import main

entry = sys.argv[1]
for argv in (["status"], ["log"], ["verify", "--ledger"], ["show", entry], ["dag"],
             ["metrics"], ["record", "--stage", "manual", "--dep", "steps/make.py"]):
    code = main(argv)
    assert code == 0, (argv, code)
    assert "great_expectations" not in sys.modules, argv
print("great_expectations never imported")
"""


def test_commands_that_run_no_gate_never_import_great_expectations(
    pipeline: Project, cli: Cli
) -> None:
    assert cli("run").code == 0
    entry = runs(cli, "make")[0]["id"]
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS, entry],
        cwd=pipeline.root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "great_expectations never imported" in proc.stdout

    timed = run_auditpipe(pipeline.root, "status")
    assert timed.code == 0
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "auditpipe", "status"],
        cwd=pipeline.root,
        capture_output=True,
        text=True,
    )
    assert traced.returncode == 0
    assert "auditpipe.pipeline.spec" in traced.stderr  # the trace is real
    assert "great_expectations" not in traced.stderr


def test_gate_denies_the_artifact_after_a_gate_failed_upstream(pipeline: Project, cli: Cli) -> None:
    """The summary in the tree predates the failed data check; the gate still sees it."""
    assert cli("run").code == 0
    pipeline.gen({"policies/p.yaml": "version: 1\nname: p\nrules: [gates_passed]\n"})
    allowed = cli("gate", "out/summary.txt", "--policy", "policies/p.yaml")
    assert allowed.code == 0, allowed.out + allowed.err
    pipeline.gen({"params.yaml": "make:\n  bad: 2\n"})
    assert cli("run").code == 1
    denied = cli("gate", "out/summary.txt", "--policy", "policies/p.yaml", "--json")
    assert denied.code == 1
    rules = {r["rule"]: r for r in json.loads(denied.out)[0]["rules"]}
    assert rules["gates_passed"]["passed"] is False
    detail = " ".join(rules["gates_passed"]["detail"].split())
    assert "the current run of stage 'make'" in detail
    assert "failed gate 'wine' on data/wine.parquet" in detail
    assert "`auditpipe run make`" in detail
    # The fix: the data back as it was. run restores the passing run's products
    # from the cache; run, status and gate now name the same, passing run.
    pipeline.gen({"params.yaml": "make:\n  bad: 0\n"})
    fixed = cli("run")
    assert fixed.code == 0, fixed.err
    assert "every stage is up to date" in fixed.err
    assert all(row["upToDate"] for row in json.loads(cli("status", "--json").out))
    allowed = cli("gate", "out/summary.txt", "--policy", "policies/p.yaml")
    assert allowed.code == 0, allowed.out + allowed.err


def test_run_status_and_gate_agree_after_a_stricter_suite_is_reverted(
    pipeline: Project, cli: Cli
) -> None:
    """A stricter suite fails on the very bytes the passing run made; reverting
    the suite brings back the passing run's key. The bytes in the tree were last
    judged failing, so run must not call the stage up to date while gate denies."""
    assert cli("run").code == 0
    pipeline.gen({"policies/p.yaml": "version: 1\nname: p\nrules: [gates_passed]\n"})
    strict = [expectation("expect_table_row_count_to_be_between", min_value=50, max_value=100)]
    write_suite(pipeline.root / "expectations/wine.json", strict)
    assert cli("run").code == 1
    write_suite(pipeline.root / "expectations/wine.json", SUITE)
    status = {r["stage"]: r for r in json.loads(cli("status", "--json").out)}
    assert status["make"]["upToDate"] is False
    # The failing bytes were quarantined when the gate failed. The passing run
    # made those same bytes, so the cache must not bring them back: make re-runs.
    reasons = " ".join(status["make"]["reasons"])
    assert "output data/wine.parquet missing" in reasons
    assert "restores it" not in reasons
    denied = cli("gate", "out/summary.txt", "--policy", "policies/p.yaml")
    assert denied.code == 1
    again = cli("run")
    assert again.code == 0, again.err
    assert all(row["upToDate"] for row in json.loads(cli("status", "--json").out))
    allowed = cli("gate", "out/summary.txt", "--policy", "policies/p.yaml")
    assert allowed.code == 0, allowed.out + allowed.err


def test_a_fixed_input_that_passes_again_supersedes_the_failed_gate(
    pipeline: Project, cli: Cli
) -> None:
    """Found by examples/walkthrough.sh: bad rows in, gate fails, bad rows out; the
    stage's passing run is restored from the cache (same key, same data as
    before), downstream stays up to date, and the artifact is allowed again,
    since the data its lineage used is again the data that passed."""
    assert cli("run").code == 0
    pipeline.gen({"policies/p.yaml": "version: 1\nname: p\nrules: [gates_passed]\n"})
    pipeline.gen({"params.yaml": "make:\n  bad: 2\n"})
    assert cli("run").code == 1
    pipeline.gen({"params.yaml": "make:\n  bad: 0\n"})
    again = cli("run")
    assert again.code == 0, again.err
    assert "1 skipped, 1 restored" in again.err  # make restored, summarize up to date
    allowed = cli("gate", "out/summary.txt", "--policy", "policies/p.yaml")
    assert allowed.code == 0, allowed.out + allowed.err
