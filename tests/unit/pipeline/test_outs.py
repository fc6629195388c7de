"""Output options in DVC's form: parsed, validated, and in the stage key only when set."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.outs import DEFAULT, OutOptions
from auditpipe.pipeline.spec import load_pipeline
from auditpipe.pipeline.stage import StageSpec
from auditpipe.pipeline.stagekey import stage_key

TODAY = """\
stages:
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/prepared/train.parquet]
    params: [train]
    outs: [models/model.pkl]
    metrics: [metrics/train.json]
"""
DEPS = {"src/train.py": "a" * 64, "data/prepared/train.parquet": "b" * 64}
# The key this stage had before output options existed (computed with that code).
PINNED = "81b3179c1156cdf5fdd63b2493dfb9601ab795241ae6b18f715127629fedcd1d"


def stage(root: Path, text: str, name: str = "train") -> StageSpec:
    (root / "auditpipe.yaml").write_text(textwrap.dedent(text))
    return load_pipeline(root).stages[name]


def key(s: StageSpec) -> str:
    return stage_key(s, DEPS, {"train": {"epochs": 3}}, {})


def test_a_stage_in_todays_syntax_keeps_its_key(tmp_path: Path) -> None:
    assert key(stage(tmp_path, TODAY)) == PINNED


def test_default_options_spelled_out_keep_the_key(tmp_path: Path) -> None:
    text = TODAY.replace(
        "outs: [models/model.pkl]",
        "outs:\n      - models/model.pkl: {persist: false, cache: true, push: true}",
    )
    s = stage(tmp_path, text)
    assert s.outs == ("models/model.pkl",)
    assert s.out_options == ()
    assert key(s) == PINNED


def test_options_parse_and_change_the_key(tmp_path: Path) -> None:
    text = TODAY.replace(
        "outs: [models/model.pkl]",
        "outs:\n      - models/model.pkl:\n          persist: true\n          remote: s3\n"
        "      - models/extra.bin",
    )
    text = text.replace(
        "metrics: [metrics/train.json]", "metrics:\n      - metrics/train.json: {cache: false}"
    )
    s = stage(tmp_path, text)
    assert s.outs == ("models/model.pkl", "models/extra.bin")
    assert s.options("models/model.pkl") == OutOptions(persist=True, remote="s3")
    assert s.options("models/extra.bin") == DEFAULT
    assert s.options("metrics/train.json") == OutOptions(cache=False)
    assert s.definition()["outOptions"] == {
        "metrics/train.json": {"cache": False},
        "models/model.pkl": {"persist": True, "remote": "s3"},
    }
    assert key(s) != PINNED


@pytest.mark.parametrize(
    ("entry", "line", "phrase"),
    [
        ("- m: {persist: yes please}", 6, "persist of 'm' must be true or false"),
        ("- m: {keep: true}", 6, "unknown key 'keep' in the options of outs 'm'"),
        ("- {a: {}, b: {}}", 6, "names one path, not 2"),
        ("- m: {remote: 3}", 6, "remote of 'm' must be a remote's name"),
        ("- /abs: {persist: true}", 6, "absolute"),
    ],
)
def test_bad_options_name_file_and_line(tmp_path: Path, entry: str, line: int, phrase: str) -> None:
    text = "stages:\n  s:\n    cmd: run\n    deps: [x]\n    outs:\n      " + entry + "\n"
    with pytest.raises(ConfigError) as err:
        stage(tmp_path, text, "s")
    assert err.value.line == line
    assert phrase in str(err.value)
