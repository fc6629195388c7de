"""``auditpipe plots show`` and ``plots diff`` draw the declared plots with vl-convert."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Project

pytest.importorskip("vl_convert")

DVC_YAML = """\
stages:
  train:
    cmd: "true"
    plots: [{loss.csv: {x: step, y: loss, template: scatter}}]
plots:
  - ROC: {template: simple, x: fpr, y: {roc.json: tpr}}
  - Confusion: {template: confusion, x: actual, y: {cm.json: predicted}}
"""


def _roc(shift: float) -> str:
    return json.dumps([{"fpr": f / 10, "tpr": min(1.0, f / 10 + shift)} for f in range(11)])


def test_plots_show_and_diff(project: Project, cli: Callable[..., Any]) -> None:
    (project.root / "auditpipe.yaml").unlink()
    project.gen(
        {
            "dvc.yaml": DVC_YAML,
            "roc.json": _roc(0.1),
            "cm.json": json.dumps([{"actual": a, "predicted": a % 2} for a in range(3)]),
            "loss.csv": "step,loss\n0,1.0\n1,0.5\n2,0.25\n",
        }
    )
    project.commit("plots")
    result = cli("plots", "show", "-o", "out")
    assert result.code == 0, result.err
    out = project.root / "out"
    for stem in ("ROC", "Confusion", "loss.csv"):
        assert (out / f"{stem}.svg").read_text().startswith("<svg")
        assert (out / f"{stem}.html").exists()
    spec = json.loads((out / "ROC.vl.json").read_text())
    assert spec["encoding"]["x"]["field"] == "fpr" and spec["encoding"]["y"]["field"] == "tpr"
    assert len(spec["data"]["values"]) == 11
    loss = json.loads((out / "loss.csv.vl.json").read_text())  # a stage's plot, its own x/y
    assert loss["encoding"]["x"]["field"] == "step" and loss["encoding"]["y"]["field"] == "loss"
    assert loss["mark"] == "point"

    (project.root / "roc.json").write_text(_roc(0.3))
    result = cli("plots", "diff", "-o", "diffed")
    assert result.code == 0, result.err
    spec = json.loads((project.root / "diffed/ROC.vl.json").read_text())
    series = {r["series"] for r in spec["data"]["values"]}
    assert series == {"HEAD: roc.json", "workspace: roc.json"}


def test_unknown_plot_target_is_exit_2_with_a_suggestion(
    project: Project, cli: Callable[..., Any]
) -> None:
    (project.root / "auditpipe.yaml").unlink()
    project.gen({"dvc.yaml": DVC_YAML, "roc.json": _roc(0.1)})
    result = cli("plots", "show", "RCO")
    assert result.code == 2
    assert "no plot named 'RCO'" in result.err and "ROC" in result.err
