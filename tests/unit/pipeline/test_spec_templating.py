"""auditpipe.yaml gains dvc.yaml's templating without losing its own semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.spec import load_pipeline


def test_vars_params_foreach_over_params_matrix_without_do_frozen(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("models: [a, b]\ntrain: {lr: 0.1}\n")
    (tmp_path / "v.yaml").write_text("size: 3\n")
    (tmp_path / "auditpipe.yaml").write_text(
        """\
vars: [v.yaml, {who: me}]
stages:
  t:
    foreach: ${models}
    do:
      cmd: train ${item} ${train.lr} ${size} ${who}
      outs: ["m_${item}"]
  mx:
    matrix: {m: "${models}", k: [1, 2]}
    cmd: go ${item.m} ${item.k}
    outs: ["mx/${item.m}${item.k}"]
    frozen: true
  clock:
    cmd: date
    always_changed: true
"""
    )
    spec = load_pipeline(tmp_path)
    assert spec.stages["t@b"].cmd == "train b 0.1 3 me"
    assert spec.stages["t@a"].outs == ("m_a",)  # root-relative, as always
    assert [n for n in spec.stages if n.startswith("mx@")] == [
        "mx@a-1",
        "mx@a-2",
        "mx@b-1",
        "mx@b-2",
    ]
    assert spec.stages["mx@b-2"].cmd == "go b 2" and spec.stages["mx@b-2"].frozen
    assert spec.stages["clock"].always_changed and not spec.stages["clock"].frozen


def test_env_is_never_interpolated_even_when_a_param_matches(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("SEED: 1\n")
    (tmp_path / "auditpipe.yaml").write_text("stages:\n  s:\n    cmd: x\n    env: ['${SEED}']\n")
    with pytest.raises(ConfigError) as caught:
        load_pipeline(tmp_path)
    assert caught.value.line == 4


def test_unknown_variable_still_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train: {lr: 1}\n")
    (tmp_path / "auditpipe.yaml").write_text("stages:\n  s:\n    cmd: echo ${train.nope}\n")
    with pytest.raises(ConfigError) as caught:
        load_pipeline(tmp_path)
    assert caught.value.line == 3
    assert "${train.nope} does not resolve" in caught.value.message
