"""A lineage backend that is down, black-holed, disabled or interrupted never fails or
stalls `auditpipe run`; secrets in commands never reach it."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Project, Result, run_auditpipe
from tests.lineage_support import BlackHole, LineageEndpoint, closed_port_url, validate_event

PY = shlex.quote(sys.executable)
PIPELINE = f"""\
secrets: {{allow: [stages.one.cmd]}}
stages:
  one:
    cmd: MY_TOKEN=hunter2 {PY} steps/one.py --api-key=hunter3
    deps: [steps/one.py]
    outs: [out/one.txt]
  two:
    cmd: {PY} steps/two.py
    deps: [steps/two.py, out/one.txt]
    outs: [out/two.txt]
"""
ONE = """\
import pathlib
pathlib.Path('out').mkdir(exist_ok=True)
pathlib.Path('out/one.txt').write_text('1')
"""
TWO = """\
import pathlib
pathlib.Path('out/two.txt').write_text(pathlib.Path('out/one.txt').read_text() * 2)
"""
TIMEOUT = 1.0


@pytest.fixture
def pipeline(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    for name in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AUDITPIPE_OPENLINEAGE_TIMEOUT", str(TIMEOUT))
    project.gen({"auditpipe.yaml": PIPELINE, "steps/one.py": ONE, "steps/two.py": TWO})
    project.gen({".gitignore": "out/\n"})
    project.commit("pipeline")
    return project


@pytest.fixture
def endpoint() -> Iterator[LineageEndpoint]:
    server = LineageEndpoint()
    yield server
    server.close()


def timed_run(root: Path, env: dict[str, str]) -> tuple[Result, float]:
    start = time.monotonic()
    result = run_auditpipe(root, "run", "--force", env=env)
    return result, time.monotonic() - start


@pytest.mark.parametrize("backend", ["unreachable", "black-holed"])
def test_a_dead_backend_neither_fails_nor_stalls_the_run_and_warns_once(
    pipeline: Project, backend: str
) -> None:
    """Against a healthy endpoint, so both sides pay for importing the client."""
    hole = BlackHole() if backend == "black-holed" else None
    url = hole.url if hole else closed_port_url()
    healthy = LineageEndpoint()
    plain, elapsed = [], []
    try:
        for _ in range(2):  # interleaved, best of two: the machine is shared
            baseline, took = timed_run(pipeline.root, {"OPENLINEAGE_URL": healthy.url})
            assert baseline.code == 0 and "warning" not in baseline.err, baseline.err
            plain.append(took)
            result, took = timed_run(pipeline.root, {"OPENLINEAGE_URL": url})
            elapsed.append(took)
            assert result.code == 0, result.err
            assert "2 ran" in result.err
            assert result.err.count("warning:") == 1, result.err
            assert "OpenLineage backend" in result.err
    finally:
        healthy.close()
        if hole:
            hole.close()
    # The precise bound (close() waits <= the timeout) is tested in-process in
    # tests/unit/export/test_event_channel.py; here: no stall beyond it, plus noise.
    assert min(elapsed) - min(plain) <= TIMEOUT + 1.0, (elapsed, plain)
    assert len(healthy.events) == 8  # the baseline really sent its events (2 runs x 2 stages)
    log = json.loads(run_auditpipe(pipeline.root, "log", "--json").out)
    assert len(log) == 8  # every run of every stage was signed


def test_events_carry_the_api_key_and_no_secret_from_the_command(
    pipeline: Project, endpoint: LineageEndpoint
) -> None:
    env = {"OPENLINEAGE_URL": endpoint.url, "OPENLINEAGE_API_KEY": "the-api-key"}
    result = run_auditpipe(pipeline.root, "run", env=env)
    assert result.code == 0, result.err
    events = endpoint.wait_for(4)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "COMPLETE"]
    for event in events:
        validate_event(event)
    assert {h.get("Authorization") for h in endpoint.headers} == {"Bearer the-api-key"}
    sent = json.dumps(events)
    assert "hunter2" not in sent and "hunter3" not in sent
    command = events[0]["run"]["facets"]["auditpipe"]["command"]
    assert command.startswith("MY_TOKEN=*** ") and command.endswith("--api-key=***")


def test_openlineage_disabled_sends_nothing(pipeline: Project, endpoint: LineageEndpoint) -> None:
    env = {"OPENLINEAGE_URL": endpoint.url, "OPENLINEAGE_DISABLED": "true"}
    result = run_auditpipe(pipeline.root, "run", env=env)
    assert result.code == 0, result.err
    assert "warning" not in result.err
    time.sleep(0.5)
    assert endpoint.events == []


def test_sigterm_sends_abort_for_the_running_stage(
    pipeline: Project, endpoint: LineageEndpoint
) -> None:
    slow = "import time; time.sleep(60)\n"
    pipeline.gen({"steps/one.py": slow})
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditpipe", "run"],
        cwd=pipeline.root,
        env={**os.environ, "OPENLINEAGE_URL": endpoint.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = endpoint.wait_for(1)
        assert started and started[0]["eventType"] == "START", proc.poll()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    events = endpoint.wait_for(2, timeout=5)
    assert [e["eventType"] for e in events] == ["START", "ABORT"]
    assert events[1]["run"]["runId"] == events[0]["run"]["runId"]
    validate_event(events[1])
    assert json.loads(run_auditpipe(pipeline.root, "log", "--json").out) == []


def test_a_run_refused_for_a_secret_param_sends_nothing_and_an_allowed_one_is_screened(
    pipeline: Project, endpoint: LineageEndpoint
) -> None:
    """Secrets are refused before any stage starts: no event at all leaves the
    machine. Allow-listed, the run goes ahead and its events still show `***`."""
    pipeline.gen(
        {
            "params.yaml": "one:\n  api_key: sk-live-123\n  lr: 0.1\n",
            "auditpipe.yaml": PIPELINE.replace("stages:", "params: params.yaml\nstages:").replace(
                "    deps: [steps/one.py]", "    deps: [steps/one.py]\n    params: [one]"
            ),
        }
    )
    env = {"OPENLINEAGE_URL": endpoint.url}
    result = run_auditpipe(pipeline.root, "run", env=env)
    assert result.code == 2, result.err
    assert "looks like a secret" in result.err
    time.sleep(0.5)
    assert endpoint.events == []  # nothing started, so nothing to start or abort
    assert json.loads(run_auditpipe(pipeline.root, "log", "--json").out) == []

    allowed = run_auditpipe(pipeline.root, "run", "--allow-secret", "one.api_key", env=env)
    assert allowed.code == 0, allowed.err
    events = endpoint.wait_for(4)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "COMPLETE"]
    assert "sk-live-123" not in json.dumps(events)
    assert events[0]["run"]["facets"]["auditpipe"]["params"] == {
        "one": {"api_key": "***", "lr": 0.1}
    }
