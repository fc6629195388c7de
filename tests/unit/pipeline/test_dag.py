"""The stage graph: edges, order, selection, producers, renderings."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.dag import Dag, build_dag, is_within
from auditpipe.pipeline.spec import load_pipeline
from tests.unit.pipeline.test_spec import EXAMPLE

EVALUATE = """\
  evaluate:
    cmd: python src/evaluate.py
    deps: [models, data/prepared/test.parquet]
    outs: [reports/eval.json]
  docs:
    cmd: make docs
    outs: [site]
  publish:
    cmd: publish
    deps: [reports]
"""


def dag_of(root: Path, text: str) -> Dag:
    (root / "auditpipe.yaml").write_text(textwrap.dedent(text))
    return build_dag(load_pipeline(root))


@pytest.fixture
def dag(tmp_path: Path) -> Dag:
    return dag_of(tmp_path, EXAMPLE + EVALUATE)


def test_upstream_is_direct(dag: Dag) -> None:
    assert dag.upstream("prepare") == set()
    assert dag.upstream("train@2") == {"prepare"}
    # evaluate reads the models directory (every train output) and a prepared file
    assert dag.upstream("evaluate") == {"prepare", "train@1", "train@2", "train@3"}
    assert dag.upstream("publish") == {"evaluate"}


def test_downstream_is_transitive(dag: Dag) -> None:
    assert dag.downstream("prepare") == {"train@1", "train@2", "train@3", "evaluate", "publish"}
    assert dag.downstream("train@1") == {"evaluate", "publish"}
    assert dag.downstream("publish") == set()
    assert dag.downstream("docs") == set()


def test_order_is_topological_and_stable(dag: Dag) -> None:
    assert dag.order() == [
        "prepare",
        "train@1",
        "train@2",
        "train@3",
        "evaluate",
        "docs",
        "publish",
    ]


def test_order_follows_file_order_among_ready_stages(tmp_path: Path) -> None:
    dag = dag_of(
        tmp_path,
        """\
        stages:
          report: {cmd: r, deps: [b.out, a.out]}
          b: {cmd: b, deps: [a.out], outs: [b.out]}
          z: {cmd: z}
          a: {cmd: a, outs: [a.out]}
        """,
    )
    assert dag.order() == ["z", "a", "b", "report"]


@pytest.mark.parametrize(
    ("path", "stage"),
    [
        ("data/prepared/train.parquet", "prepare"),
        ("./data/prepared/../prepared/test.parquet", "prepare"),
        ("metrics/train-2.json", "train@2"),
        ("data/prepared", "prepare"),  # a directory holding outputs
        ("models", "train@1"),  # several writers inside: the first in file order
        ("reports/eval.json", "evaluate"),
        ("site/index.html", "docs"),  # a file inside an output directory
        ("data/raw/wine.csv", None),
        ("src/train.py", None),
        ("/etc/passwd", None),
    ],
)
def test_producer(dag: Dag, path: str, stage: str | None) -> None:
    assert dag.producer(path) == stage


def test_select_takes_targets_and_their_upstream(dag: Dag) -> None:
    assert dag.select(["train@2"]) == ["prepare", "train@2"]
    assert dag.select(["publish", "docs"]) == [
        "prepare",
        "train@1",
        "train@2",
        "train@3",
        "evaluate",
        "docs",
        "publish",
    ]
    assert dag.select(["train"]) == ["prepare", "train@1", "train@2", "train@3"]
    assert dag.select([]) == []


def test_unknown_stage_is_a_config_error_with_a_suggestion(dag: Dag) -> None:
    with pytest.raises(ConfigError) as err:
        dag.select(["evalute"])
    assert "unknown stage 'evalute'" in err.value.message
    assert err.value.hint == "did you mean 'evaluate'?"
    with pytest.raises(ConfigError):
        dag.upstream("nope")


def test_edges_carry_the_paths_that_connect(dag: Dag) -> None:
    edges = {(u, d): paths for u, d, paths in dag.edges()}
    assert edges[("prepare", "train@1")] == ("data/prepared/train.parquet",)
    assert edges[("train@3", "evaluate")] == ("models",)
    assert edges[("evaluate", "publish")] == ("reports",)
    assert len(edges) == 8  # prepare->train x3, ->evaluate x4, evaluate->publish


def test_mermaid(dag: Dag) -> None:
    text = dag.to_mermaid()
    assert text.startswith("flowchart TD\n")
    assert '    s0["prepare"]\n' in text
    assert '    s4["evaluate"]\n' in text
    assert "    s0 --> s1\n" in text  # prepare -> train@1
    assert "    s3 --> s4\n" in text  # train@3 -> evaluate
    assert text.count("-->") == 8


def test_dot(dag: Dag) -> None:
    text = dag.to_dot()
    assert text.startswith("digraph pipeline {")
    assert text.rstrip().endswith("}")
    assert '    "prepare" -> "train@1";\n' in text
    assert '    "evaluate" -> "publish";\n' in text
    assert text.count("->") == 8


def test_json_is_serializable_and_has_edges(dag: Dag) -> None:
    data = json.loads(json.dumps(dag.to_json()))
    assert {"from": "evaluate", "to": "publish", "paths": ["reports"]} in data["edges"]
    assert data["order"] == dag.order()
    evaluate = next(s for s in data["stages"] if s["name"] == "evaluate")
    assert evaluate["upstream"] == ["prepare", "train@1", "train@2", "train@3"]
    assert evaluate["line"] == 22


def test_text(dag: Dag) -> None:
    lines = dag.to_text().splitlines()
    assert lines[0] == "prepare"
    assert "evaluate <- prepare, train@1, train@2, train@3" in lines
    assert "docs" in lines


def test_longer_cycle_names_every_stage_from_the_first_in_file_order(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        dag_of(
            tmp_path,
            """\
            stages:
              free: {cmd: f, outs: [f]}
              c: {cmd: c, deps: [b, f], outs: [c]}
              a: {cmd: a, deps: [c], outs: [a]}
              b: {cmd: b, deps: [a], outs: [b]}
            """,
        )
    assert "cycle between stages: c -> a -> b -> c" in err.value.message
    assert err.value.line == 3


def test_dep_directory_holding_another_stages_output_is_an_edge(tmp_path: Path) -> None:
    dag = dag_of(
        tmp_path,
        """\
        stages:
          a: {cmd: a, outs: [data/features/a.parquet]}
          b: {cmd: b, deps: [data/features], outs: [model]}
        """,
    )
    assert dag.upstream("b") == {"a"}


@pytest.mark.parametrize(
    ("path", "base", "inside"),
    [("a", "a", True), ("a/b", "a", True), ("ab", "a", False), ("a", "a/b", False)],
)
def test_is_within(path: str, base: str, inside: bool) -> None:
    assert is_within(path, base) is inside
