"""Property tests: random DAGs round-trip through auditpipe.yaml; junk never crashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditpipe.errors import ConfigError
from auditpipe.pipeline.dag import build_dag
from auditpipe.pipeline.spec import load_params, load_pipeline

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[dict[int, set[int]], list[bool], list[int]]:
    """Stage ``i`` may read outputs of stages ``< i`` only: acyclic by construction.

    Returns each stage's upstream set, whether its output is a directory (read
    through a file inside it), and the order the stages are written to the file.
    """
    n = draw(st.integers(min_value=1, max_value=9))
    upstream = {i: draw(st.sets(st.integers(0, i - 1))) if i else set() for i in range(n)}
    as_dir = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    file_order = draw(st.permutations(range(n)))
    return upstream, as_dir, list(file_order)


def write_graph(
    root: Path, upstream: dict[int, set[int]], as_dir: list[bool], order: list[int]
) -> None:
    def read(j: int) -> str:
        return f"out/s{j}/part-0.bin" if as_dir[j] else f"./out/s{j}.bin"

    stages: dict[str, Any] = {}
    for i in order:
        stage: dict[str, Any] = {"cmd": f"python step.py {i}", "deps": [f"src/s{i}.py"]}
        stage["deps"] += [read(j) for j in sorted(upstream[i])]
        stage["outs"] = [f"out/s{i}/" if as_dir[i] else f"out/s{i}.bin"]
        stages[f"s{i}"] = stage
    (root / "auditpipe.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))


@SETTINGS
@given(graphs())
def test_random_dags_round_trip(
    tmp_path: Path, graph: tuple[dict[int, set[int]], list[bool], list[int]]
) -> None:
    upstream, as_dir, file_order = graph
    write_graph(tmp_path, upstream, as_dir, file_order)

    spec = load_pipeline(tmp_path)
    dag = build_dag(spec)

    assert list(spec.stages) == [f"s{i}" for i in file_order]
    expected_edges = {(f"s{j}", f"s{i}") for i, ups in upstream.items() for j in ups}
    assert {(u, d) for u, d, _ in dag.edges()} == expected_edges
    for i, ups in upstream.items():
        assert dag.upstream(f"s{i}") == {f"s{j}" for j in ups}

    order = dag.order()
    assert sorted(order) == sorted(spec.stages)
    position = {name: k for k, name in enumerate(order)}
    assert all(position[u] < position[d] for u, d in expected_edges)
    # Stable: at each step, the first stage in file order whose upstream is done.
    done: list[str] = []
    while len(done) < len(order):
        done.append(next(s for s in spec.stages if s not in done and dag.upstream(s) <= set(done)))
    assert order == done

    for i in range(len(upstream)):
        below = dag.downstream(f"s{i}")
        assert all(f"s{i}" in dag.select([d]) for d in below)


FIELDS = ["stages", "params", "signer", "cmd", "deps", "outs", "metrics", "validate", "wdir"]
FIELDS += ["env", "content", "desc", "foreach", "matrix", "do", "s", "t", "a.csv", "${item}"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(
        ["", ".", "..", "/abs", "a.csv", "x/../y", "${item}", "${key}", "${item.a}", "A_B"]
    ),
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5)
    ),
    max_leaves=25,
)


def only_config_errors(root: Path, data: bytes) -> None:
    (root / "auditpipe.yaml").write_bytes(data)
    try:
        spec = load_pipeline(root)
        build_dag(spec)
        load_params(spec)
    except ConfigError as err:
        assert err.message
        assert err.line is None or err.line >= 1


@SETTINGS
@given(st.text(max_size=200))
def test_junk_text_only_raises_config_error(tmp_path: Path, text: str) -> None:
    only_config_errors(tmp_path, text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(st.binary(max_size=100))
def test_junk_bytes_only_raise_config_error(tmp_path: Path, data: bytes) -> None:
    only_config_errors(tmp_path, data)


@SETTINGS
@given(
    st.dictionaries(st.just("stages"), st.dictionaries(st.sampled_from(["s", "t", "u"]), documents))
)
def test_junk_structures_only_raise_config_error(tmp_path: Path, document: dict[str, Any]) -> None:
    only_config_errors(tmp_path, yaml.safe_dump(document).encode())


@SETTINGS
@given(documents)
def test_junk_params_only_raise_config_error(tmp_path: Path, document: Any) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(document))
    only_config_errors(tmp_path, b"stages:\n  s: {cmd: run, params: [a]}\n")
