"""First-hour frictions around data gates (issue 16, items 6 and 12): a failed
gate's output leaves the working tree for a quarantine named in the message, and
a gate shows signs of life on stderr (never in --json output)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from auditpipe.pipeline.quarantine import quarantined, restore
from tests.conftest import Project, Result, run_auditpipe
from tests.integration.test_gates_pipeline import MAKE, PIPELINE, SUITE, SUMMARIZE
from tests.unit.gates.helpers import write_suite

Cli = Callable[..., Result]


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


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def latest(cli: Cli, stage: str) -> dict[str, object]:
    log = json.loads(cli("log", "--stage", stage, "--json").out)
    shown = json.loads(cli("show", log[0]["id"], "--json").out)
    return {"id": log[0]["id"], **shown["statement"]}


# -- 6. a failed gate's output is quarantined, its digest in the signed run ---------------


def test_failed_gate_output_moves_to_quarantine_named_in_the_message(
    gated: Project, cli: Cli
) -> None:
    assert cli("run").code == 0
    good = sha256(gated.root / "data/wine.parquet")
    gated.gen({"params.yaml": "make:\n  bad: 2\n"})
    result = cli("run")
    assert result.code == 1
    failed = latest(cli, "make")
    run_id = str(failed["id"])
    place = f".git/auditpipe/quarantine/{run_id}/"
    assert f"quarantined data/wine.parquet in {place}" in result.err
    assert not (gated.root / "data/wine.parquet").exists()  # no artifact left in the tree
    held = gated.root / place / "data/wine.parquet"
    predicate = failed["predicate"]
    assert isinstance(predicate, dict)
    (product,) = predicate["products"]
    assert product["digest"]["sha256"] == sha256(held) != good  # the signed run names it
    assert quarantined(gated.root / ".git/auditpipe") == {run_id: ["data/wine.parquet"]}
    assert "make: stale" in cli("status").out
    assert cli("verify", "--ledger").code == 0

    # The building block `auditpipe checkout` uses: back in the tree, digest checked.
    expected = {"data/wine.parquet": product["digest"]["sha256"]}
    restored = restore(gated.root, gated.root / ".git/auditpipe", run_id, expected=expected)
    assert restored == ["data/wine.parquet"]
    assert sha256(gated.root / "data/wine.parquet") == product["digest"]["sha256"]
    assert quarantined(gated.root / ".git/auditpipe") == {}


def test_restore_refuses_a_quarantined_file_that_changed(gated: Project, cli: Cli) -> None:
    gated.gen({"params.yaml": "make:\n  bad: 2\n"})
    assert cli("run").code == 1
    run_id = str(latest(cli, "make")["id"])
    state = gated.root / ".git/auditpipe"
    held = state / "quarantine" / run_id / "data/wine.parquet"
    recorded = sha256(held)
    held.write_bytes(b"tampered")
    from auditpipe.errors import ConfigError

    with pytest.raises(ConfigError, match="no longer has the digest"):
        restore(gated.root, state, run_id, expected={"data/wine.parquet": recorded})
    assert not (gated.root / "data/wine.parquet").exists()


# -- 12. signs of life on stderr for slow work, never in --json output -------------------


def test_validate_shows_progress_on_stderr_and_none_with_json(gated: Project) -> None:
    from tests.unit.gates.helpers import write_parquet

    write_parquet(gated.root / "data/wine.parquet")
    args = ("validate", "data/wine.parquet", "--suite", "expectations/wine.json")
    plain = run_auditpipe(gated.root, *args)  # stderr is a pipe: line-based heartbeat
    assert plain.code == 0, plain.err
    assert "… loading Great Expectations" in plain.err  # importing GX takes seconds
    assert "…" not in plain.out
    as_json = run_auditpipe(gated.root, *args, "--json")
    assert as_json.code == 0, as_json.err
    assert json.loads(as_json.out)["success"] is True
    assert "…" not in as_json.err and "…" not in as_json.out


def test_suite_init_shows_progress_while_gx_loads(gated: Project) -> None:
    from tests.unit.gates.helpers import write_parquet

    write_parquet(gated.root / "data/wine.parquet")
    result = run_auditpipe(gated.root, "suite", "init", "data/wine.parquet")
    assert result.code == 0, result.err
    assert "… loading Great Expectations" in result.err
    assert json.loads(result.out)["expectations"]  # stdout is the suite, nothing else


def test_run_shows_which_stage_is_loading_great_expectations(gated: Project) -> None:
    result = run_auditpipe(gated.root, "run")
    assert result.code == 0, result.err
    assert "… make: loading Great Expectations" in result.err
    assert "…" not in result.out
