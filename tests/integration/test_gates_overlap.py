"""Great Expectations loads while a stage's command runs, once per `auditpipe run`:
every gate of the run shares the one load, a suite GX refuses is still a clear
exit 2 naming the file, and a run with no gate to run never imports GX."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, Result, run_auditpipe
from tests.integration.test_gates_pipeline import MAKE, PIPELINE, SUITE, SUMMARIZE, runs
from tests.unit.gates.helpers import expectation, write_suite

Cli = Callable[..., Result]
PY = shlex.quote(sys.executable)
WORKTREE = Path(__file__).resolve().parents[2]

TWO_GATES = f"""\
params: params.yaml
stages:
  make:
    cmd: {PY} steps/make.py
    deps: [steps/make.py]
    params: [make.bad]
    outs: [data/wine.parquet]
    validate:
      data/wine.parquet: expectations/wine.json
  copy:
    cmd: {PY} -c "import shutil; shutil.copy('data/wine.parquet', 'data/copy.parquet')"
    deps: [data/wine.parquet]
    outs: [data/copy.parquet]
    validate:
      data/copy.parquet: expectations/copy.json
"""


@pytest.fixture
def gated(project: Project) -> Project:
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


def test_two_gated_stages_load_great_expectations_once(
    gated: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import great_expectations

    gated.gen({"auditpipe.yaml": TWO_GATES})
    write_suite(gated.root / "expectations/copy.json", SUITE, name="copy")
    contexts: list[str] = []
    real = great_expectations.get_context

    def counting(*args: Any, **kwargs: Any) -> Any:  # a spy: GX does the real work
        contexts.append(str(kwargs.get("mode")))
        return real(*args, **kwargs)

    monkeypatch.setattr(great_expectations, "get_context", counting)
    result = cli("run")
    assert result.code == 0, result.err
    assert contexts == ["ephemeral"]  # one context for both stages' gates
    for stage, data in (("make", "data/wine.parquet"), ("copy", "data/copy.parquet")):
        (validation,) = runs(cli, stage)[0]["predicate"]["validations"]
        assert validation["data"] == data and validation["success"] is True
        assert validation["statistics"]["evaluatedExpectations"] == len(SUITE)


def test_a_failing_gate_in_a_shared_context_still_fails(gated: Project, cli: Cli) -> None:
    gated.gen({"auditpipe.yaml": TWO_GATES, "params.yaml": "make:\n  bad: 1\n"})
    strict = [expectation("expect_column_values_to_be_in_set", column="cultivar", value_set=[9])]
    write_suite(gated.root / "expectations/copy.json", strict, name="copy")
    write_suite(gated.root / "expectations/wine.json", [SUITE[0]])  # make's gate passes
    result = cli("run")
    assert result.code == 1
    assert "data/copy.parquet: 1 of 1 expectations of expectations/copy.json failed" in result.err
    (make,) = runs(cli, "make")
    assert make["predicate"]["validations"][0]["success"] is True


def test_a_suite_gx_refuses_stops_the_run_with_the_file_named(gated: Project, cli: Cli) -> None:
    broken = [SUITE[0], expectation("expect_column_values_to_be_betwen", column="alcohol")]
    write_suite(gated.root / "expectations/wine.json", broken)
    result = run_auditpipe(gated.root, "run")  # a real process: the loader's thread in it
    assert result.code == 2, result.err
    assert "expectations/wine.json:" in result.err
    assert "unknown expectation type 'expect_column_values_to_be_betwen'" in result.err
    assert "did you mean 'expect_column_values_to_be_between'" in result.err
    assert "Traceback" not in result.err
    assert runs(cli, "make") == [] and runs(cli, "summarize") == []


def test_great_expectations_that_cannot_load_is_a_clear_error(
    gated: Project, cli: Cli, tmp_path: Path
) -> None:
    fake = tmp_path / "site" / "great_expectations"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated broken install')\n")
    path = os.pathsep.join([str(fake.parent), str(WORKTREE)])
    result = run_auditpipe(gated.root, "run", env={"PYTHONPATH": path})
    assert result.code == 2, result.err
    assert "cannot load Great Expectations: simulated broken install" in result.err
    assert "Traceback" not in result.err
    assert runs(cli, "make") == []


def test_the_gate_checks_the_suite_as_it_is_when_the_gate_runs(gated: Project, cli: Cli) -> None:
    # The command rewrites the suite after GX loaded it: the newer bytes are validated
    # and recorded, as when the suite was read only at gate time.
    rewrite = (
        "import json, pathlib\n"
        "doc = json.loads(pathlib.Path('expectations/wine.json').read_text())\n"
        "doc['expectations'] = doc['expectations'][:1]\n"
        "pathlib.Path('expectations/wine.json').write_text(json.dumps(doc))\n"
    )
    gated.gen({"steps/make.py": "import time\ntime.sleep(0.5)\n" + MAKE + rewrite})
    assert cli("run", "make").code == 0
    (validation,) = runs(cli, "make")[0]["predicate"]["validations"]
    suite = (gated.root / "expectations/wine.json").read_bytes()
    assert validation["suiteDigest"]["sha256"] == hashlib.sha256(suite).hexdigest()
    assert validation["statistics"]["evaluatedExpectations"] == 1


CHECK_RUN = """\
import sys
from auditpipe.cli import main

code = main(["run", *sys.argv[1:]])
print("exit", code, "great_expectations" in sys.modules)
"""


def test_runs_with_no_gate_to_run_never_import_great_expectations(gated: Project) -> None:
    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", CHECK_RUN, *args],
            cwd=gated.root,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().splitlines()[-1]

    assert run("summarize", "--dry-run") == "exit 0 False"  # nothing runs
    assert run() == "exit 0 True"  # make's gate runs
    gated.gen({"steps/summarize.py": SUMMARIZE + "# changed\n"})
    assert run() == "exit 0 False"  # only the ungated stage runs
    assert run() == "exit 0 False"  # nothing to do


def test_commands_that_loaded_gx_leave_with_their_code_and_all_their_output(
    gated: Project,
) -> None:
    # Such commands skip the interpreter's teardown of GX (auditpipe.cli.shutdown):
    # piped, block-buffered output must still arrive whole, and the code unchanged.
    from tests.unit.gates.helpers import write_parquet

    write_parquet(
        gated.root / "data/wine.parquet", {"alcohol": [9.0] * 2000, "cultivar": [7] * 2000}
    )
    args = ("validate", "data/wine.parquet", "--suite", "expectations/wine.json", "--json")
    result = run_auditpipe(gated.root, *args)
    assert result.code == 1, result.err
    record = json.loads(result.out)
    assert record["success"] is False
    assert {f["column"] for f in record["failedExpectations"]} == {None, "alcohol", "cultivar"}
    passing = run_auditpipe(gated.root, "run", "make")
    assert passing.code == 0, passing.err
    assert "1 ran" in passing.err  # the run's summary, printed last
