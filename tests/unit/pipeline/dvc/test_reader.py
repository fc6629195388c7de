"""dvc.yaml read with DVC's semantics into the stages the planner uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.outs import OutOptions
from auditpipe.pipeline.spec import load_pipeline
from auditpipe.pipeline.stagekey import stage_key


def _gen(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_vars_interpolation_foreach_matrix_and_names(tmp_path: Path) -> None:
    _gen(
        tmp_path,
        {
            "params.yaml": "models: [a, b]\ntrain: {lr: 0.1, flags: {fast: true, n: 2}}\n",
            "extra.yaml": "size: 3\nunused: 1\n",
            "dvc.yaml": """\
vars:
  - extra.yaml:size
  - inline: {who: me}
stages:
  train:
    foreach: ${models}
    do:
      cmd: run ${item} --lr ${train.lr} ${train.flags} ${inline.who} \\${HOME}
      outs: ["m_${item}.bin"]
  sweep:
    matrix:
      m: ${models}
      opt: [{k: 1}, {k: 2}]
    cmd: sweep ${item.m} ${item.opt.k} ${size}
    outs: ["s/${item.m}-${item.opt.k}"]
""",
        },
    )
    spec = load_pipeline(tmp_path)
    assert list(spec.stages) == [
        "train@a",
        "train@b",
        "sweep@a-opt0",
        "sweep@a-opt1",
        "sweep@b-opt0",
        "sweep@b-opt1",
    ]
    assert spec.stages["train@a"].cmd == "run a --lr 0.1 --fast --n 2 me ${HOME}"
    assert spec.stages["train@b"].outs == ("m_b.bin",)
    assert spec.stages["sweep@b-opt1"].cmd == "sweep b 2 3"
    assert spec.path == tmp_path.resolve() / "dvc.yaml"


def test_wdir_paths_params_files_frozen_always_changed(tmp_path: Path) -> None:
    _gen(
        tmp_path,
        {
            "data.csv": "x\n",
            "sub/params.yaml": "lr: 1\n",
            "sub/dvc.yaml": """\
stages:
  fit:
    wdir: ../work
    cmd: fit ../data.csv
    deps: [../data.csv]
    params:
      - lr
      - ../cfg.toml: [train.epochs]
      - ../all.json:
    outs: [model.bin]
    metrics: [{m.json: {cache: false}}]
    plots: [{loss.csv: {x: step, y: loss}}]
    frozen: true
    always_changed: false
    meta: {owner: me}
    desc: fits
""",
        },
    )
    stage = load_pipeline(tmp_path).stages["sub/dvc.yaml:fit"]
    assert stage.wdir == "work"
    assert stage.deps == ("data.csv",)
    assert stage.outs == ("work/model.bin",)
    assert stage.metrics == ("work/m.json",)
    assert stage.plots == ("work/loss.csv",)
    # params.yaml of the wdir, not of the root: a file of its own
    assert stage.params == ()
    assert stage.param_files == (
        ("work/params.yaml", ("lr",)),
        ("cfg.toml", ("train.epochs",)),
        ("all.json", ()),
    )
    assert stage.frozen and not stage.always_changed
    assert stage.out_options == (("work/m.json", OutOptions(cache=False)),)
    assert stage.source == "sub/dvc.yaml"


def test_top_level_metrics_inside_a_directory_output_are_read_by_its_stage(
    tmp_path: Path,
) -> None:
    _gen(
        tmp_path,
        {
            "dvc.yaml": """\
stages:
  evaluate:
    cmd: eval
    outs: [eval]
metrics: [eval/metrics.json]
plots:
  - ROC: {template: simple, x: fpr, y: {eval/roc.json: tpr}}
  - eval/importance.png
""",
        },
    )
    spec = load_pipeline(tmp_path)
    assert spec.stages["evaluate"].reads_metrics == ("eval/metrics.json",)
    assert spec.metrics == ("eval/metrics.json",)
    assert spec.plots[0]["files"] == {"eval/roc.json": "tpr"}
    assert spec.plots[0]["template"] == "simple"


def test_a_stage_in_todays_syntax_keeps_its_key(tmp_path: Path) -> None:
    """Pinned: the stage key of an auditpipe.yaml stage written before this change."""
    _gen(
        tmp_path,
        {
            "auditpipe.yaml": """\
stages:
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/train.csv]
    params: [train.lr]
    outs: [models/model.pkl]
    metrics: [metrics.json]
    env: [SEED]
    desc: trains
"""
        },
    )
    stage = load_pipeline(tmp_path).stages["train"]
    deps = {"src/train.py": "a" * 64, "data/train.csv": "b" * 64}
    key = stage_key(stage, deps, {"train.lr": 0.1}, {})
    assert key == "8988dccebecf87b7554e25eaee42f6eb12b1d31f340bf0f785aef4fbb62fa341"


@pytest.mark.parametrize(
    ("text", "files", "line", "message", "hint"),
    [
        (
            "stages:\n  a:\n    cmd: x\n    dep: [y]\n",
            {},
            4,
            "unknown key 'dep'",
            "deps",
        ),
        (
            "stages:\n  a:\n    cmd: echo ${train.nope}\n",
            {"params.yaml": "train: {lr: 1}\n"},
            3,
            "${train.nope} does not resolve",
            "params.yaml or vars",
        ),
        (
            "vars:\n  - missing.yaml\nstages:\n  a:\n    cmd: x\n",
            {},
            2,
            "vars file missing.yaml does not exist",
            "create missing.yaml",
        ),
        (
            "stages:\n  a:\n    cmd: echo ${a..b}\n",
            {},
            3,
            "is not a valid expression",
            "${section.key}",
        ),
        (
            "stages:\n  a:\n    foreach: [1]\n    cmd: x\n    do: {cmd: y}\n",
            {},
            4,
            "belongs under 'do:'",
            None,
        ),
        (
            "vars: [{x: 1}, {x: 2}]\nstages:\n  a:\n    cmd: echo ${x}\n",
            {},
            1,
            "cannot redefine 'x'",
            "rename",
        ),
    ],
)
def test_bad_input_names_file_line_and_what_to_do(
    tmp_path: Path,
    text: str,
    files: dict[str, str],
    line: int,
    message: str,
    hint: str | None,
) -> None:
    _gen(tmp_path, {"dvc.yaml": text, **files})
    with pytest.raises(ConfigError) as caught:
        load_pipeline(tmp_path)
    error = caught.value
    assert error.path is not None and error.path.endswith("dvc.yaml")
    assert error.line == line
    assert message in error.message
    if hint is not None:
        assert error.hint is not None and hint in error.hint


def test_auditpipe_yaml_overlays_dvc_stages_by_name(tmp_path: Path) -> None:
    _gen(
        tmp_path,
        {
            "dvc.yaml": """\
stages:
  prep:
    cmd: prep
    outs: [clean.csv]
  train:
    foreach: [1, 2]
    do:
      cmd: train ${item}
      deps: [clean.csv]
      outs: ["m${item}.bin"]
""",
            "auditpipe.yaml": """\
signer: local
stages:
  prep:
    validate: {clean.csv: suites/clean.json}
  train@2:
    env: [SEED]
  train:
    content: true
""",
        },
    )
    plain = load_pipeline(tmp_path, tmp_path / "dvc.yaml")
    spec = load_pipeline(tmp_path)
    assert spec.signer == "local"
    assert spec.stages["prep"].validate == (("clean.csv", "suites/clean.json"),)
    assert spec.stages["train@2"].env == ("SEED",)
    assert spec.stages["train@1"].env == ()
    assert spec.stages["train@1"].content and spec.stages["train@2"].content
    assert spec.sha256 != plain.sha256  # the overlay is part of the pipeline's identity
    assert spec.files == ("dvc.yaml", "auditpipe.yaml")


@pytest.mark.parametrize(
    ("overlay", "line", "message"),
    [
        ("stages:\n  prepp:\n    env: [X]\n", 2, "stage 'prepp' is not in the DVC pipeline"),
        ("stages:\n  prep:\n    cmd: other\n", 3, "'cmd' cannot be set"),
        ("params: p.yaml\n", 1, "'params' has no place in an overlay"),
    ],
)
def test_bad_overlay(tmp_path: Path, overlay: str, line: int, message: str) -> None:
    _gen(tmp_path, {"dvc.yaml": "stages:\n  prep:\n    cmd: prep\n", "auditpipe.yaml": overlay})
    with pytest.raises(ConfigError) as caught:
        load_pipeline(tmp_path)
    assert caught.value.path is not None and caught.value.path.endswith("auditpipe.yaml")
    assert caught.value.line == line
    assert message in caught.value.message


def test_a_stage_without_deps_or_outputs_always_runs_as_in_dvc(tmp_path: Path) -> None:
    _gen(
        tmp_path,
        {"dvc.yaml": "stages:\n  ping:\n    cmd: echo hi\n  out:\n    cmd: x\n    outs: [o]\n"},
    )
    spec = load_pipeline(tmp_path)
    assert spec.stages["ping"].always_changed
    assert not spec.stages["out"].always_changed


def test_dvc_artifacts_are_the_model_cards(tmp_path: Path) -> None:
    """DVC's top-level ``artifacts:`` (paths relative to that dvc.yaml) become the
    pipeline's model cards, as ``artifacts:`` does in auditpipe.yaml."""
    _gen(
        tmp_path,
        {
            "sub/dvc.yaml": """\
stages:
  train:
    cmd: python train.py
    outs: [model.pkl]
artifacts:
  churn:
    path: model.pkl
    type: model
    meta: {owner: risk-team, risk_tier: high}
""",
        },
    )
    spec = load_pipeline(tmp_path)
    card = spec.artifacts["churn"]
    assert card.path == "sub/model.pkl"
    assert "sub/model.pkl" in spec.stages["sub/dvc.yaml:train"].outs


def test_dvc_artifacts_bad_path_names_the_file(tmp_path: Path) -> None:
    _gen(tmp_path, {"dvc.yaml": "stages: {}\nartifacts:\n  m:\n    path: ../../etc/x\n"})
    with pytest.raises(ConfigError) as err:
        load_pipeline(tmp_path)
    assert "dvc.yaml" in str(err.value.path)
