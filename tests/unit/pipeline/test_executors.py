"""The executor seam: stage resources and retries, the local executor, Ray task options."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.executors import CommandJob
from auditpipe.pipeline.executors.interface import CommandOutcome
from auditpipe.pipeline.executors.local import LocalExecutor
from auditpipe.pipeline.executors.ray import ray_options
from auditpipe.pipeline.resources import parse_size
from auditpipe.pipeline.spec import load_pipeline

PLAIN = "stages:\n  train:\n    cmd: python train.py\n    outs: [model.pkl]\n"
WITH_RESOURCES = (
    PLAIN + "    resources: {cpus: 2, gpus: 1, memory: 8GiB, custom: {a100: 1}}\n    retries: 2\n"
)


def test_resources_are_parsed_and_leave_the_stage_definition_alone(tmp_path: Path) -> None:
    plain = load_pipeline(_write(tmp_path / "a", PLAIN)).stages["train"]
    placed = load_pipeline(_write(tmp_path / "b", WITH_RESOURCES)).stages["train"]
    assert dict(placed.resources) == {
        "cpus": 2.0,
        "gpus": 1.0,
        "memory": 8 * 2**30,
        "custom": {"a100": 1.0},
    }
    assert placed.retries == 2
    assert plain.retries == 0 and dict(plain.resources) == {}
    # Where a stage runs does not change what it is: the stage key's input is equal.
    assert placed.definition() == plain.definition()


def _write(root: Path, text: str) -> Path:
    root.mkdir()
    (root / "auditpipe.yaml").write_text(text)
    return root


@pytest.mark.parametrize(
    ("extra", "line", "phrase"),
    [
        ("    resources: {cpu: 2}\n", 5, "unknown field 'cpu'"),
        ("    resources: {gpus: -1}\n", 5, "non-negative"),
        ("    resources: {memory: 8 gigs}\n", 5, "is not a size"),
        ("    resources: [2]\n", 5, "must be a mapping"),
        ("    retries: -1\n", 5, "retries must be a whole number"),
        ("    retries: yes\n", 5, "retries must be a whole number"),
    ],
)
def test_bad_resources_name_the_line(tmp_path: Path, extra: str, line: int, phrase: str) -> None:
    (tmp_path / "auditpipe.yaml").write_text(PLAIN + extra)
    with pytest.raises(ConfigError) as caught:
        load_pipeline(tmp_path)
    text = caught.value.diagnostics()
    assert f"auditpipe.yaml:{line}" in text
    assert phrase in text


def test_executor_key_is_checked(tmp_path: Path) -> None:
    assert load_pipeline(_write(tmp_path / "a", "executor: ray\n" + PLAIN)).executor == "ray"
    with pytest.raises(ConfigError, match="executor must be one of local, ray"):
        load_pipeline(_write(tmp_path / "b", "executor: slurm\n" + PLAIN))


@pytest.mark.parametrize(
    ("text", "size"),
    [("8GiB", 8 * 2**30), ("512MB", 512 * 10**6), ("1.5G", 1_500_000_000), (1000, 1000)],
)
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


def test_ray_options_map_resources_and_keep_retries_off() -> None:
    job = CommandJob("s", "true", "/", {})
    assert ray_options(job) == {"num_cpus": 1, "max_retries": 0, "retry_exceptions": False}
    placed = CommandJob(
        "s",
        "true",
        "/",
        {},
        resources={"cpus": 2.0, "gpus": 1.0, "memory": 2**30, "custom": {"a100": 1.0}},
        retries=3,
    )
    assert ray_options(placed) == {
        "num_cpus": 2.0,
        "num_gpus": 1.0,
        "memory": 2**30,
        "resources": {"a100": 1.0},
        "max_retries": 3,
        "retry_exceptions": False,
    }


def test_local_executor_streams_lines_and_reports_the_exit_code(tmp_path: Path) -> None:
    seen: list[tuple[str, bytes]] = []
    job = CommandJob(
        "s", "echo one; echo two >&2; exit 3", str(tmp_path), {"PATH": "/usr/bin:/bin"}
    )
    outcome = LocalExecutor().launch(job, lambda stream, raw: seen.append((stream, raw)))
    assert outcome.exit_code == 3 and outcome.failure is None and outcome.placement is None
    assert sorted(seen) == [("stderr", b"two\n"), ("stdout", b"one\n")]


def test_local_executor_reports_a_missing_directory(tmp_path: Path) -> None:
    job = CommandJob("s", "true", str(tmp_path / "absent"), {})
    outcome = LocalExecutor().launch(job, lambda stream, raw: None)
    assert outcome.exit_code is None
    assert outcome.failure is not None and "could not start command" in outcome.failure


def test_local_executor_stops_one_stage_and_leaves_the_other(tmp_path: Path) -> None:
    executor = LocalExecutor()
    outcomes: dict[str, CommandOutcome] = {}

    def launch(stage: str, cmd: str) -> None:
        job = CommandJob(stage=stage, cmd=cmd, cwd=str(tmp_path), env={"PATH": "/usr/bin:/bin"})
        outcomes[stage] = executor.launch(job, lambda stream, raw: None)

    threads = [
        threading.Thread(target=launch, args=("a", "sleep 30")),
        threading.Thread(target=launch, args=("b", "sleep 2; echo done > b.txt")),
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    executor.stop("a")
    threads[0].join(timeout=10)
    assert time.monotonic() - started < 6 and outcomes["a"].exit_code == -15  # SIGTERM
    threads[1].join(timeout=10)
    assert outcomes["b"].exit_code == 0 and (tmp_path / "b.txt").read_text() == "done\n"
    # A command of a stopped stage that starts afterwards (the stop raced its start) dies too.
    began = time.monotonic()
    launch("a", "sleep 30")
    assert outcomes["a"].exit_code == -15 and time.monotonic() - began < 6
