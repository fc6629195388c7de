"""Loading auditpipe.yaml: the example pipeline, expansions, paths, params."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.dag import normalize_path
from auditpipe.pipeline.spec import (
    PipelineSpec,
    StageSpec,
    load_params,
    load_pipeline,
    select_params,
)

EXAMPLE = """\
params: params.yaml
signer: local
stages:
  prepare:
    cmd: python src/prepare.py
    deps: [src/prepare.py, data/raw/wine.csv]
    params: [prepare.test_size, prepare.seed]
    outs: [data/prepared/train.parquet, data/prepared/test.parquet]
    validate:
      data/prepared/train.parquet: expectations/train.json
  train:
    foreach: [1, 2, 3]
    do:
      cmd: python src/train.py --seed ${item}
      deps: [src/train.py, data/prepared/train.parquet]
      params: [train]
      outs: ["models/model-${item}.pkl"]
      metrics: ["metrics/train-${item}.json"]
      wdir: .
      env: [CUDA_VISIBLE_DEVICES]
      content: false
"""


def load(root: Path, text: str) -> PipelineSpec:
    (root / "auditpipe.yaml").write_text(textwrap.dedent(text))
    return load_pipeline(root)


def one(root: Path, body: str) -> StageSpec:
    """Load a pipeline with a single stage ``s`` whose fields are ``body``."""
    spec = load(root, "stages:\n  s:\n" + textwrap.indent(textwrap.dedent(body), "    "))
    return spec.stages["s"]


def test_example_pipeline_loads_expanded(tmp_path: Path) -> None:
    spec = load(tmp_path, EXAMPLE)

    train = [
        StageSpec(
            name=f"train@{i}",
            cmd=f"python src/train.py --seed {i}",
            wdir=".",
            deps=("src/train.py", "data/prepared/train.parquet"),
            outs=(f"models/model-{i}.pkl",),
            metrics=(f"metrics/train-{i}.json",),
            params=("train",),
            validate=(),
            env=("CUDA_VISIBLE_DEVICES",),
            content=False,
            line=11,
        )
        for i in (1, 2, 3)
    ]
    prepare = StageSpec(
        name="prepare",
        cmd="python src/prepare.py",
        wdir=".",
        deps=("src/prepare.py", "data/raw/wine.csv"),
        outs=("data/prepared/train.parquet", "data/prepared/test.parquet"),
        metrics=(),
        params=("prepare.test_size", "prepare.seed"),
        validate=(("data/prepared/train.parquet", "expectations/train.json"),),
        env=(),
        content=False,
        line=4,
    )
    assert list(spec.stages.values()) == [prepare, *train]
    assert list(spec.stages) == ["prepare", "train@1", "train@2", "train@3"]
    assert spec.signer == "local"
    assert spec.params_file == "params.yaml"
    assert spec.path == tmp_path.resolve() / "auditpipe.yaml"
    assert spec.root == tmp_path.resolve()
    data = (tmp_path / "auditpipe.yaml").read_bytes()
    assert spec.sha256 == hashlib.sha256(data).hexdigest()
    assert train[0].all_outputs == ("models/model-1.pkl", "metrics/train-1.json")


def test_stages_cannot_be_changed_after_loading(tmp_path: Path) -> None:
    spec = load(tmp_path, EXAMPLE)
    with pytest.raises(TypeError):
        spec.stages["x"] = spec.stages["prepare"]  # type: ignore[index]


def test_foreach_mapping_names_by_key_and_interpolates_key_and_fields(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """\
        stages:
          fetch:
            foreach:
              us: {bucket: s3-us, days: 7}
              eu: {bucket: s3-eu, days: 30}
            do:
              cmd: fetch --bucket ${item.bucket} --days ${item.days} --region ${key}
              outs: ["raw/${key}.csv"]
              desc: fetch ${key}
        """,
    )
    assert list(spec.stages) == ["fetch@us", "fetch@eu"]
    eu = spec.stages["fetch@eu"]
    assert eu.cmd == "fetch --bucket s3-eu --days 30 --region eu"
    assert eu.outs == ("raw/eu.csv",)
    assert eu.desc == "fetch eu"


def test_matrix_is_a_cartesian_product_in_key_order(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """\
        stages:
          train:
            matrix:
              seed: [1, 2]
              model: [rf, {name: gbm}]
            do:
              cmd: train --seed ${item.seed}
        """,
    )
    assert list(spec.stages) == ["train@1-rf", "train@1-model1", "train@2-rf", "train@2-model1"]
    assert spec.stages["train@2-model1"].cmd == "train --seed 2"
    assert {s.line for s in spec.stages.values()} == {2}


def test_matrix_items_expose_nested_fields(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """\
        stages:
          train:
            matrix:
              cfg: [{name: gbm, layers: [8, 16]}]
              flag: [true]
            do:
              cmd: train ${item.cfg.name} ${item.cfg.layers.1} ${item.flag}
              outs: [m]
        """,
    )
    assert spec.stages["train@cfg0-true"].cmd == "train gbm 16 true"


def test_foreach_over_mappings_in_a_list_names_by_index(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """\
        stages:
          t:
            foreach: [{x: a}, {x: b}]
            do: {cmd: "run ${item.x}", outs: ["o/${item.x}"]}
        """,
    )
    assert [s.cmd for s in spec.stages.values()] == ["run a", "run b"]
    assert list(spec.stages) == ["t@0", "t@1"]


def test_cmd_list_runs_in_sequence_joined_with_and(tmp_path: Path) -> None:
    stage = one(tmp_path, "cmd: [make data, python train.py]\n")
    assert stage.cmd == "make data && python train.py"


def test_escaped_interpolation_is_left_for_the_shell(tmp_path: Path) -> None:
    stage = one(tmp_path, "cmd: echo \\${HOME} $USER\n")
    assert stage.cmd == "echo ${HOME} $USER"


def test_null_fields_mean_absent_and_defaults_apply(tmp_path: Path) -> None:
    stage = one(tmp_path, "cmd: run\ndeps:\nouts: ~\nwdir: null\ndesc:\n")
    assert (stage.deps, stage.outs, stage.wdir, stage.content, stage.desc) == (
        (),
        (),
        ".",
        False,
        None,
    )


def test_starter_file_and_empty_stages_load(tmp_path: Path) -> None:
    spec = load(tmp_path, "# comment\nstages: {}\n")
    assert dict(spec.stages) == {}
    assert spec.signer is None
    assert load(tmp_path, "stages:\n").stages == {}


def test_merge_keys_share_fields_and_own_keys_win(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """\
        stages:
          a: &common
            cmd: a
            deps: [src/lib.py]
            env: [SEED]
            outs: [a.out]
          b:
            <<: *common
            cmd: b
            outs: [b.out]
        """,
    )
    b = spec.stages["b"]
    assert (b.cmd, b.deps, b.outs, b.env) == ("b", ("src/lib.py",), ("b.out",), ("SEED",))


def test_definition_is_canonical_and_excludes_line_and_desc(tmp_path: Path) -> None:
    first = one(tmp_path, "cmd: run\ndeps: [b, a, a]\nouts: [y, x]\nenv: [B, A]\ndesc: one\n")
    second = load(
        tmp_path,
        "\n\nstages:\n  s:\n    cmd: run\n    deps: [a, b]\n    outs: [x, y]\n    env: [A, B]\n",
    ).stages["s"]
    assert first.deps == ("b", "a")  # file order kept, duplicates dropped
    assert first.line != second.line
    assert first.definition() == second.definition()
    assert first.definition() == {
        "name": "s",
        "cmd": "run",
        "wdir": ".",
        "deps": ["a", "b"],
        "outs": ["x", "y"],
        "metrics": [],
        "params": [],
        "validate": [],
        "env": ["A", "B"],
        "content": False,
    }
    changed = one(tmp_path, "cmd: run --fast\ndeps: [a, b]\nouts: [x, y]\nenv: [A, B]\n")
    assert changed.definition() != first.definition()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a", "a"),
        ("./a/../b", "b"),
        ("data//raw/./wine.csv", "data/raw/wine.csv"),
        ("data/dir/", "data/dir"),
        ("data\\raw\\wine.csv", "data/raw/wine.csv"),
        ("a/b/../../c", "c"),
        (".", "."),
        ("~/x", "~/x"),
        (".gitignore", ".gitignore"),
    ],
)
def test_normalize_path(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("/etc/passwd", "absolute"),
        ("C:/data/x.csv", "absolute"),
        ("C:\\data", "absolute"),
        ("..", "escapes"),
        ("a/../../b", "escapes"),
        (".git/config", ".git"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("./.git", ".git"),
    ],
)
def test_normalize_path_refuses(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_path(raw)


def test_paths_are_normalized_and_relative_to_root_not_wdir(tmp_path: Path) -> None:
    stage = one(
        tmp_path,
        """\
        cmd: python train.py
        wdir: ./src/
        deps: [./data/../data/raw.csv, "src\\\\train.py"]
        outs: [models/]
        validate: {./data/raw.csv: ./expectations/../expectations/raw.json}
        """,
    )
    assert stage.wdir == "src"
    assert stage.deps == ("data/raw.csv", "src/train.py")
    assert stage.outs == ("models",)
    assert stage.validate == (("data/raw.csv", "expectations/raw.json"),)


def test_validate_may_name_a_file_inside_an_output_directory(tmp_path: Path) -> None:
    stage = one(tmp_path, "cmd: run\nouts: [out]\nvalidate:\n  out/part-0.parquet: s.json\n")
    assert stage.validate == (("out/part-0.parquet", "s.json"),)


def test_explicit_path_is_taken_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "other.yaml").write_text("stages:\n  s:\n    dep: [a]\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_pipeline(tmp_path, Path("pipelines/other.yaml"))
    assert err.value.path == "pipelines/other.yaml"
    assert err.value.location() == "pipelines/other.yaml:3"


# -- params -------------------------------------------------------------------


def test_params_absent_and_unused_is_empty(tmp_path: Path) -> None:
    assert load_params(load(tmp_path, "stages:\n  s: {cmd: run}\n")) == {}


def test_params_missing_but_used_points_at_the_stage(tmp_path: Path) -> None:
    spec = load(
        tmp_path, "params: conf/p.yaml\nstages:\n  a: {cmd: a}\n  b:\n    cmd: b\n    params: [x]\n"
    )
    with pytest.raises(ConfigError) as err:
        load_params(spec)
    assert err.value.line == 4
    assert err.value.path is not None and err.value.path.endswith("auditpipe.yaml")
    assert "'b'" in err.value.message and "conf/p.yaml" in err.value.message


def test_params_yaml_selected_by_dotted_key_and_section(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(
        "prepare: {seed: 42, test_size: 0.2}\ntrain: {lr: 0.1, layers: [8, 8]}\n"
        "when: 2024-05-01\n'a.b': literal\n"
    )
    params = load_params(load(tmp_path, EXAMPLE))
    assert params["when"] == "2024-05-01"
    selected = select_params(params, ["prepare.seed", "train", "a.b"], params_path="params.yaml")
    assert selected == {
        "prepare.seed": 42,
        "train": {"lr": 0.1, "layers": [8, 8]},
        "a.b": "literal",
    }
    selected["train"]["lr"] = 1.0
    assert params["train"]["lr"] == 0.1


def test_select_params_missing_key_names_file_key_and_stage() -> None:
    with pytest.raises(ConfigError) as err:
        select_params(
            {"train": {"lr": 1}}, ["train.epochs"], params_path="params.yaml", stage="train@1"
        )
    assert err.value.path == "params.yaml"
    assert "'train.epochs'" in err.value.message
    assert "'train@1'" in err.value.message


def test_params_toml(tmp_path: Path) -> None:
    (tmp_path / "params.toml").write_text("[train]\nlr = 0.5\n")
    spec = load(tmp_path, "params: params.toml\nstages:\n  s: {cmd: run, params: [train.lr]}\n")
    assert load_params(spec) == {"train": {"lr": 0.5}}
    (tmp_path / "params.toml").write_text("[train]\nlr = \n")
    with pytest.raises(ConfigError, match="invalid TOML") as err:
        load_params(spec)
    assert err.value.line == 2


def test_params_alias_bomb_is_refused(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    (tmp_path / "params.yaml").write_text("\n".join(levels) + "\n")
    with pytest.raises(ConfigError, match="more than 1000000 values"):
        load_params(load(tmp_path, EXAMPLE))


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        ("a: 1\na: 2\n", 2, "duplicate key 'a'"),
        ("a: [1\n", 1, "invalid YAML"),  # the unclosed [ is on line 1
        ("- 1\n- 2\n", 1, "must be a mapping"),
    ],
)
def test_bad_params_file(tmp_path: Path, text: str, line: int, phrase: str) -> None:
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_params(load(tmp_path, EXAMPLE))
    assert phrase in err.value.message
    assert err.value.line == line
