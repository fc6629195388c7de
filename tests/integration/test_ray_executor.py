"""`auditpipe run --executor ray` on a real two-node Ray cluster on this machine:
stages run as Ray tasks (placed by their resources), the driver alone
fingerprints and signs, and a worker killed mid-stage is a recorded failure."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.integration.test_object_store import (  # noqa: F401 - shared fixtures
    PREPARE,
    RAW,
    endpoint,
    pipeline_text,
    s3,
    s3_server,
)

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

MB = 2**20

PIPELINE = """\
stages:
  prepare:
    cmd: python3 steps/prepare.py
    deps: [steps/prepare.py, data/raw.csv]
    outs: [out/clean.csv]
  train:
    do:
      cmd: python3 steps/train.py ${item}
      deps: [steps/train.py, out/clean.csv]
      outs: ['out/model-${item}.txt']
      resources: {cpus: 1, custom: {node_b: 1}}
    foreach: [1, 2]
"""
STEPS = {
    "steps/prepare.py": "d = open('data/raw.csv').read()\n"
    "open('out/clean.csv', 'w').write(d.upper())\nprint('prepared', len(d))\n",
    "steps/train.py": "import sys\nn = int(sys.argv[1])\n"
    "open(f'out/model-{n}.txt', 'w').write(open('out/clean.csv').read() * n)\n",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    small = {"num_cpus": 1, "object_store_memory": 80 * MB}
    head = Cluster(
        initialize_head=True,
        head_node_args={**small, "include_dashboard": False},
    )
    head.add_node(**small, resources={"node_b": 1})
    head.wait_for_nodes()
    yield head
    head.shutdown()


@pytest.fixture
def pipeline(project: Project) -> Project:
    project.gen({"auditpipe.yaml": PIPELINE, "out/.keep": "", **STEPS})
    project.commit("pipeline")
    return project


def runs(cli: Callable[..., Result]) -> list[dict[str, Any]]:
    result = cli("log", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def show(cli: Callable[..., Result], entry_id: str) -> dict[str, Any]:
    result = cli("show", entry_id, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    return data.get("statement", data)


def test_stages_run_on_the_cluster_and_the_driver_signs(
    cluster: Any, pipeline: Project, cli: Callable[..., Result]
) -> None:
    result = cli("run", "--executor", "ray", "--address", cluster.address, "-j", "2")
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert "prepared" in result.err or "prepared" in result.out  # logs came back
    data = (pipeline.root / "out/model-2.txt").read_text()
    assert data == "A,B\n1,2\n" * 2
    shown = {run["stage"]: show(cli, run["id"]) for run in runs(cli)}
    assert set(shown) == {"prepare", "train@1", "train@2"}
    nodes = {node.node_id for node in cluster.list_all_nodes()}
    (node_b,) = (node.node_id for node in cluster.worker_nodes)
    for stage, statement in shown.items():
        executor = statement["predicate"]["executor"]
        assert executor["kind"] == "ray"
        assert executor["nodeId"] in nodes, stage
        assert executor["version"]
        worker = executor["worker"]
        assert worker["python"] and len(worker["packagesDigest"]) == 64
    # `custom: {node_b: 1}` placed both train variants on the node offering node_b.
    assert {shown[s]["predicate"]["executor"]["nodeId"] for s in ("train@1", "train@2")} == {node_b}
    # The subject digest is the driver's own sha256 of the bytes on disk.
    subject = shown["train@2"]["subject"][0]
    assert subject["digest"]["sha256"] == hashlib.sha256(data.encode()).hexdigest()
    assert cli("verify", "--ledger").code == 0
    # Re-running changes nothing: the driver's fingerprints are what decide.
    again = cli("run", "--executor", "ray", "--address", cluster.address)
    assert again.code == 0, again.err
    assert "every stage is up to date" in again.err


VICTIM = """\
stages:
  victim:
    cmd: echo $PPID > out/worker.pid && echo started && exec sleep 30
    deps: [data/raw.csv]
    outs: [out/never.txt]
  lost:
    cmd: echo ok
    deps: [data/raw.csv]
    outs: [out/not-on-shared-storage.txt]
"""


def test_a_worker_killed_mid_stage_is_a_recorded_failure(
    cluster: Any, project: Project, cli: Callable[..., Result]
) -> None:
    project.gen({"auditpipe.yaml": VICTIM, "out/.keep": ""})
    project.commit("victim")
    pid_file = project.root / "out/worker.pid"

    def kill_the_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = pid_file.read_text().strip() if pid_file.exists() else ""
            if text:
                os.kill(int(text), signal.SIGKILL)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_worker)
    killer.start()
    result = cli(
        "run", "--executor", "ray", "--address", cluster.address, "-j", "2", "--keep-going"
    )
    killer.join()
    assert result.code == 1, result.err
    assert "Traceback" not in result.err + result.out
    assert "the Ray task failed" in result.err
    # An output the command never wrote where the driver reads says where to write it.
    assert "write outputs to shared storage" in result.err
    recorded = {run["stage"]: run for run in runs(cli)}
    assert recorded["victim"]["status"] == "failed"
    assert recorded["victim"]["subjects"] == []
    assert recorded["lost"]["status"] == "failed"
    assert cli("verify", "--ledger").code == 0


def test_an_unreachable_head_is_a_clear_error_before_anything_runs(
    pipeline: Project, cli: Callable[..., Result]
) -> None:
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = cli("run", "--executor", "ray", "--address", f"127.0.0.1:{port}")
    assert result.code == 2, result.err
    assert "unreachable" in result.err and "Traceback" not in result.err
    assert runs(cli) == []


def test_raw_data_on_s3_and_stages_on_ray(
    cluster: Any,
    endpoint: str,  # noqa: F811 - the fixture imported above
    project: Project,
    cli: Callable[..., Result],
) -> None:
    """The example shape past one machine: the raw data in a bucket, the stage on
    a cluster node, the output back in the bucket, the driver's digests signed."""
    project.gen({"auditpipe.yaml": pipeline_text(endpoint), "steps/prepare.py": PREPARE})
    project.commit("pipeline on s3")
    result = cli("run", "--executor", "ray", "--address", cluster.address)
    assert result.code == 0, result.err
    assert "prepare | prepared" in result.err + result.out
    (run,) = runs(cli)
    statement = show(cli, run["id"])
    assert statement["predicate"]["executor"]["kind"] == "ray"
    assert statement["subject"][0]["name"] == "s3://lake/clean/data.csv"
    assert statement["subject"][0]["digest"]["sha256"] == hashlib.sha256(RAW.upper()).hexdigest()
    assert cli("verify", "--ledger").code == 0


def test_a_suite_gx_refuses_cancels_the_stage_on_the_cluster(
    cluster: Any, project: Project, cli: Callable[..., Result]
) -> None:
    from tests.integration.test_gates_stop import TYPO
    from tests.unit.gates.helpers import write_suite

    gated = (
        "stages:\n  train:\n    cmd: sleep 30 && echo x > out/wine.parquet\n"
        "    outs: [out/wine.parquet]\n"
        "    validate:\n      out/wine.parquet: expectations/wine.json\n"
    )
    project.gen({"auditpipe.yaml": gated, "out/.keep": ""})
    write_suite(project.root / "expectations/wine.json", TYPO)
    project.commit("a gated stage with a typo in its suite")
    started = time.monotonic()
    result = cli("run", "--executor", "ray", "--address", cluster.address)
    assert result.code == 2, result.err
    assert time.monotonic() - started < 20  # cancelled, not run to its end
    assert "expectations/wine.json:" in result.err and "Traceback" not in result.err
    assert runs(cli) == []
    assert cli("verify", "--ledger").code == 0
