"""First-hour frictions around a pipeline (issue 16, items 5, 6, 8, 11): what
`status`, `gate`, a failed data gate and `diff` tell a new user, on a real
repository with real runs signed into its ledger."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable

from tests.conftest import Project, Result

Cli = Callable[..., Result]
PY = shlex.quote(sys.executable)

STEP = """\
import pathlib, sys, yaml
params = yaml.safe_load(open("params.yaml"))
for out in sys.argv[1:]:
    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    text = '{"accuracy": 0.9}' if out.endswith(".json") else f"{out} {params}"
    pathlib.Path(out).write_text(text + "\\n")
"""


def pipeline(extra_prepare: str = "", cmd_suffix: str = "") -> str:
    return f"""\
params: params.yaml
stages:
  prepare:
    cmd: {PY} step.py data/train.csv{cmd_suffix}
    deps: [step.py]
    params: [prepare.seed]
    outs: [data/train.csv]
{extra_prepare}  train:
    cmd: {PY} step.py models/model.pkl
    deps: [step.py, data/train.csv]
    params: [train]
    outs: [models/model.pkl]
  evaluate:
    cmd: {PY} step.py metrics/evaluate.json
    deps: [step.py, models/model.pkl]
    metrics: [metrics/evaluate.json]
"""


def setup(project: Project, cli: Cli) -> None:
    project.gen(
        {
            "auditpipe.yaml": pipeline(),
            "params.yaml": "prepare: {seed: 1}\ntrain: {n: 10}\n",
            "step.py": STEP,
            ".gitignore": "data/\nmodels/\nmetrics/\n",
        }
    )
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 0, result.err


# -- 8. status names what in the stage definition changed --------------------------------


def test_status_names_an_added_gate_and_a_changed_command(project: Project, cli: Cli) -> None:
    setup(project, cli)
    gate = "    validate:\n      data/train.csv: expectations/train.json\n"
    project.gen({"auditpipe.yaml": pipeline(gate, cmd_suffix=" --again")})
    result = cli("status")
    assert result.code == 0, result.err
    prepare = result.out.split("train:", 1)[0]
    assert "validate: added data/train.csv -> expectations/train.json" in prepare
    assert "command changed:" in prepare and "--again'" in prepare
    assert "(command, outputs or options)" not in result.out


# -- 5. with no paths, gate judges what the pipeline declares ----------------------------


def test_gate_without_paths_ignores_a_model_made_by_hand(project: Project, cli: Cli) -> None:
    setup(project, cli)
    project.gen({"models/tree.pkl": b"made in a notebook, never recorded"})
    result = cli("gate", "--policy", "policies/default.yaml")
    assert result.code == 0, (result.out, result.err)
    assert "ALLOW models/model.pkl" in result.out
    assert "tree.pkl" not in result.out
    named = cli("gate", "--policy", "policies/default.yaml", "models/tree.pkl")
    assert named.code == 1  # judged when named, and denied: no signed run made it
    assert "DENY models/tree.pkl" in named.out


def test_gate_without_paths_uses_the_policys_globs_without_a_pipeline(
    project: Project, cli: Cli
) -> None:
    project.gen({"models/model.pkl": b"m"})
    recorded = cli("record", "--stage", "train", "--cmd", "x", "--out", "models/model.pkl")
    assert recorded.code == 0, recorded.err
    (project.root / "auditpipe.yaml").unlink()
    result = cli("gate", "--policy", "policies/default.yaml")
    assert "models/model.pkl" in result.out, result.err


# -- 11. diff REV REV compares params and says which runs each revision resolved to -------


def test_diff_of_two_commits_shows_the_params_that_changed(project: Project, cli: Cli) -> None:
    setup(project, cli)
    first_train = json.loads(cli("log", "--stage", "train", "--json").out)[0]["id"]
    # The usual order: edit, run (the run records the old commit, dirty), then commit.
    project.gen({"params.yaml": "prepare: {seed: 1}\ntrain: {n: 20}\n"})
    assert cli("run").code == 0
    second_train = json.loads(cli("log", "--stage", "train", "--json").out)[0]["id"]
    project.commit("more trees")
    result = cli("diff", "HEAD~1", "HEAD")
    assert result.code == 0, result.err
    assert "no differences" not in result.out.split("prepare:")[0]
    assert f"train: {first_train[:12]} -> {second_train[:12]}" in result.out
    assert "param train.n: 10 -> 20" in result.out
    assert "HEAD~1 = " in result.out and "latest runs recorded at or before it" in result.out


def test_diff_shows_a_params_change_nobody_ran_yet(project: Project, cli: Cli) -> None:
    setup(project, cli)
    project.gen({"params.yaml": "prepare: {seed: 1}\ntrain: {n: 30}\n"})
    project.commit("not run yet")
    result = cli("diff", "HEAD~1", "HEAD")
    assert result.code == 0, result.err
    assert "param train.n: 10 -> 30" in result.out
    assert "both revisions resolve to run" in result.out


def test_diff_resolves_runs_through_each_revisions_lock(project: Project, cli: Cli) -> None:
    setup(project, cli)
    ids = {s: json.loads(cli("log", "--stage", s, "--json").out)[0]["id"] for s in ("train",)}
    project.gen({"auditpipe.lock": json.dumps({"version": 1, "stages": {"train": ids["train"]}})})
    project.commit("lock")
    project.gen({"params.yaml": "prepare: {seed: 1}\ntrain: {n: 20}\n"})
    assert cli("run").code == 0
    newer = json.loads(cli("log", "--stage", "train", "--json").out)[0]["id"]
    project.gen({"auditpipe.lock": json.dumps({"version": 1, "stages": {"train": newer}})})
    project.commit("lock again")
    result = cli("diff", "HEAD~1", "HEAD")
    assert result.code == 0, result.err
    assert result.out.count("runs from its auditpipe.lock") == 2
    assert f"train: {ids['train'][:12]} -> {newer[:12]}" in result.out
