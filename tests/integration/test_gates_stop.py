"""A suite only Great Expectations can refuse stops the stage's command as soon as
GX, loading in the background, has checked it — not after a long command ran to
its end; and Ctrl-C while GX loads leaves as promptly as without gates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.integration.test_gates_pipeline import MAKE, SUITE, runs
from tests.unit.gates.helpers import expectation, write_suite

Cli = Callable[..., Result]

# The command sleeps (recording the sleep's pid), then writes the gated output.
TRAIN_SH = "sleep {seconds} &\necho $! > sleep.pid\nwait $!\n{py} steps/make.py\n"

PIPELINE = """\
params: params.yaml
stages:
  train:
    cmd: sh steps/train.sh
    deps: [steps/train.sh, steps/make.py]
    outs: [data/wine.parquet]
    validate:
      data/wine.parquet: expectations/wine.json
"""

TYPO = [SUITE[0], expectation("expect_column_values_to_be_betwen", column="alcohol")]


def _pipeline(project: Project, seconds: float, suite: list[dict[str, Any]]) -> Project:
    project.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "params.yaml": "make:\n  bad: 0\n",
            "steps/make.py": MAKE,
            "steps/train.sh": TRAIN_SH.format(seconds=seconds, py=sys.executable),
            ".gitignore": "data/\nsleep.pid\n",
        }
    )
    write_suite(project.root / "expectations/wine.json", suite)
    project.commit("a long gated stage")
    return project


def _run(root: Path, *args: str) -> Result:
    """``auditpipe run`` as a real process; a thread that blocked its exit fails the test."""
    proc = subprocess.run(
        [sys.executable, "-m", "auditpipe", "run", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie left to an init that does not reap counts)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _sleep_pid(root: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    pid_file = root / "sleep.pid"
    while True:
        text = pid_file.read_text().strip() if pid_file.exists() else ""
        if text:
            return int(text)
        if time.monotonic() > deadline:
            raise AssertionError("the stage's command never started")
        time.sleep(0.05)


def test_a_suite_gx_refuses_stops_a_long_command(project: Project, cli: Cli) -> None:
    _pipeline(project, 30, TYPO)
    started = time.monotonic()
    result = _run(project.root)  # real process, real GX, real sleep
    elapsed = time.monotonic() - started
    assert result.code == 2, result.err
    assert elapsed < 20, f"took {elapsed:.1f} s: the command was not stopped"
    assert "expectations/wine.json:" in result.err
    assert "unknown expectation type 'expect_column_values_to_be_betwen'" in result.err
    assert "Traceback" not in result.err
    assert not (project.root / "data/wine.parquet").exists()  # the command never finished
    assert _gone(_sleep_pid(project.root, timeout=0))
    assert runs(cli, "train") == []  # a property of the suite, as before the command: no run
    verified = cli("verify", "--ledger")
    assert verified.code == 0, verified.err


def test_a_stage_beside_the_stopped_one_finishes_and_is_recorded(
    project: Project, cli: Cli
) -> None:
    # As when a suite is refused before its command: nothing new starts, a stage
    # already running on its own finishes and is recorded, the run exits 2.
    _pipeline(project, 30, TYPO)
    other = "  other:\n    cmd: sleep 8 && echo done > other.txt\n    outs: [other.txt]\n"
    project.gen({"auditpipe.yaml": PIPELINE + other, ".gitignore": "data/\nsleep.pid\nother.txt\n"})
    project.commit("an ungated stage beside it")
    started = time.monotonic()
    result = _run(project.root, "-j", "2")
    assert result.code == 2, result.err
    assert time.monotonic() - started < 20
    assert "expectations/wine.json:" in result.err and "Traceback" not in result.err
    assert _gone(_sleep_pid(project.root, timeout=0))
    assert runs(cli, "train") == []
    (run,) = runs(cli, "other")
    assert run["predicate"]["exitCode"] == 0
    assert cli("verify", "--ledger").code == 0


def test_a_valid_suite_loads_while_the_command_runs_and_passes(
    project: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditpipe.gates.loader import GxLoader
    from auditpipe.pipeline.executors.local import LocalExecutor

    _pipeline(project, 2, SUITE)
    times: dict[str, float] = {}
    load, launch = GxLoader._load, LocalExecutor.launch

    def timed_load(self: GxLoader) -> None:  # spies: the real load and command run
        times["gx loading"] = time.monotonic()
        load(self)

    def timed_launch(self: LocalExecutor, *args: Any) -> Any:
        outcome = launch(self, *args)
        times["command done"] = time.monotonic()
        return outcome

    monkeypatch.setattr(GxLoader, "_load", timed_load)
    monkeypatch.setattr(LocalExecutor, "launch", timed_launch)
    result = cli("run")
    assert result.code == 0, result.err
    assert times["gx loading"] < times["command done"] - 1  # overlapped the 2-s command
    (validation,) = runs(cli, "train")[0]["predicate"]["validations"]
    assert validation["success"] is True
    assert validation["statistics"]["evaluatedExpectations"] == len(SUITE)


def test_ctrl_c_while_gx_loads_exits_130_promptly(project: Project, cli: Cli) -> None:
    _pipeline(project, 30, SUITE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditpipe", "run"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    try:
        sleep_pid = _sleep_pid(project.root)  # the command runs; GX is loading meanwhile
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        try:
            _out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # show where it hangs: every thread's stack
            proc.send_signal(signal.SIGABRT)
            raise AssertionError(proc.communicate()[1]) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 10
    assert "interrupted" in err
    assert "Traceback" not in err and "Exception in thread" not in err
    assert _gone(sleep_pid)
    assert runs(cli, "train") == []
