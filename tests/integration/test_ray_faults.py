"""The Ray head going away while a stage runs: the stage is a recorded failure with
no products, the stages that could not start are not run, the ledger verifies,
and the driver exits 1 without a traceback (its own cluster, so killing it
harms no other test; the run is a subprocess, so Ray's driver state dies with it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Project, run_auditpipe

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

MB = 2**20
PIPELINE = """\
stages:
  slow:
    cmd: touch out/started && sleep 30 && echo done > out/x.txt
    outs: [out/x.txt]
  later:
    cmd: echo y > out/y.txt
    deps: [out/x.txt]
    outs: [out/y.txt]
"""


@pytest.fixture
def doomed_cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 80 * MB, "include_dashboard": False},
    )
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()  # again: harmless when the test already did


def test_the_head_dying_mid_stage_is_a_recorded_failure(
    doomed_cluster: Any, project: Project
) -> None:
    import subprocess
    import sys

    project.gen({"auditpipe.yaml": PIPELINE, "out/.keep": ""})
    project.commit("pipeline")
    command = ["run", "--executor", "ray", "--address", doomed_cluster.address]
    run = subprocess.Popen(
        [sys.executable, "-m", "auditpipe", *command],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (project.root / "out/started").exists():
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.1)
    started = time.monotonic()
    doomed_cluster.shutdown()  # the head (GCS, raylet) and its workers go away
    out, err = run.communicate(timeout=120)
    assert time.monotonic() - started < 60, "the driver waited for a dead cluster"
    assert run.returncode == 1, err
    assert "Traceback" not in out + err
    assert "slow: the Ray task failed: NodeDiedError" in err
    assert "upstream slow did not succeed" in err
    listed = run_auditpipe(project.root, "log", "--json")
    (entry,) = json.loads(listed.out)
    assert entry["stage"] == "slow" and entry["status"] == "failed"
    assert entry["subjects"] == []
    assert not (project.root / "out/x.txt").exists()
    verified = run_auditpipe(project.root, "verify", "--ledger")
    assert verified.code == 0, verified.err
