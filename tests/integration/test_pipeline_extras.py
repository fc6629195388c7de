"""record_stage (the Python API), diff, dag, and interrupting a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import auditpipe
from tests.conftest import Project, Result


def test_record_stage_writes_the_same_kind_of_manifest(
    project: Project, cli: Callable[..., Result]
) -> None:
    project.gen({"data/in.csv": "a,b\n1,2\n"})
    with auditpipe.record_stage(
        "train", deps=["data/in.csv"], outs=["model.bin"], params={"lr": 0.1}, command="fit()"
    ) as run:
        (project.root / "model.bin").write_bytes(b"weights")
        run.log_metrics({"accuracy": 0.9})
    assert run.entry_id is not None
    statement = json.loads(cli("show", run.entry_id, "--json").out)["statement"]
    predicate = statement["predicate"]
    assert predicate["status"] == "succeeded"
    assert predicate["metrics"] == {"accuracy": 0.9}
    assert predicate["params"] == {"lr": 0.1}
    assert [m["name"] for m in predicate["materials"]] == ["data/in.csv"]
    assert statement["subject"][0]["name"] == "model.bin"
    assert cli("verify", "--ledger").code == 0


def test_record_stage_records_a_failure_and_reraises(
    project: Project, cli: Callable[..., Result]
) -> None:
    with pytest.raises(RuntimeError), auditpipe.record_stage("train", outs=["model.bin"]) as run:
        raise RuntimeError("diverged")
    statement = json.loads(cli("show", run.entry_id or "", "--json").out)["statement"]
    assert statement["predicate"]["status"] == "failed"
    assert statement["subject"] == []


def test_diff_between_two_runs_names_param_and_metric_changes(
    project: Project, cli: Callable[..., Result]
) -> None:
    ids = []
    for lr, acc in ((0.1, 0.8), (0.2, 0.85)):
        result = cli("record", "--stage", "train", "--param", f"lr={lr}", "--metric", f"acc={acc}")
        ids.append(result.out.strip())
    rows = json.loads(cli("diff", ids[0], ids[1], "--json").out)
    changes = {(c["what"], c["key"]): (c["before"], c["after"]) for c in rows[0]["changes"]}
    assert changes[("param", "lr")] == (0.1, 0.2)
    assert changes[("metric", "acc")] == (0.8, 0.85)
    assert cli("diff", ids[0], "HEAD").code == 2


def test_dag_formats(project: Project, cli: Callable[..., Result]) -> None:
    project.gen(
        {
            "auditpipe.yaml": "stages:\n  a:\n    cmd: x\n    outs: [a.txt]\n"
            "  b:\n    cmd: y\n    deps: [a.txt]\n    outs: [b.txt]\n"
        }
    )
    assert "s0 --> s1" in cli("dag", "--format", "mermaid").out
    assert '"a" -> "b"' in cli("dag", "--format", "dot").out
    edges = json.loads(cli("dag", "--format", "json").out)["edges"]
    assert [(e["from"], e["to"]) for e in edges] == [("a", "b")]


@pytest.mark.slow
def test_sigterm_stops_children_and_records_nothing_half_done(
    project: Project, cli: Callable[..., Result]
) -> None:
    project.gen(
        {
            "auditpipe.yaml": "stages:\n"
            "  quick:\n    cmd: echo hi > quick.txt\n    outs: [quick.txt]\n"
            "  slow:\n    cmd: echo started > started.txt && sleep 31.7 && echo x > slow.txt\n"
            "    deps: [quick.txt]\n    outs: [slow.txt]\n",
        }
    )
    project.commit("pipeline")
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditpipe", "run"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 30
    while not (project.root / "started.txt").exists():
        assert time.monotonic() < deadline, "slow stage never started"
        time.sleep(0.05)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert time.monotonic() - start < 10  # the sleeping child was stopped, not awaited
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    stages = [row["stage"] for row in json.loads(cli("log", "--json").out)]
    assert stages == ["quick"]  # the interrupted stage left no entry
    assert cli("verify", "--ledger").code == 0
    # the sleep's process group is gone
    ps = subprocess.run(["pgrep", "-f", "sleep 31.7"], capture_output=True, text=True)
    assert ps.stdout.strip() == ""


def test_run_push_sends_the_ledger_and_init_in_a_new_clone_fetches_it(
    project: Project,
    cli: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    project.git("remote", "add", "origin", str(remote))
    project.gen({"auditpipe.yaml": "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"})
    project.commit("pipeline")
    project.git("push", "-q", "origin", "main")
    result = cli("run", "--push")
    assert result.code == 0, result.err
    local_head = project.git("rev-parse", "auditpipe/ledger").strip()
    remote_head = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-parse", "auditpipe/ledger"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert remote_head == local_head

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(remote), str(clone)], check=True)
    monkeypatch.chdir(clone)
    init = cli("init")
    assert init.code == 0, init.err
    assert "fetched ledger branch auditpipe/ledger from origin" in init.out
    runs = json.loads(cli("log", "--json").out)
    assert [r["stage"] for r in runs] == ["a"]


def test_union_pull_replays_entries_with_materials_and_verifies(
    project: Project,
    cli: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replayed entries get the same index (materials included) append gives them."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    project.git("remote", "add", "origin", str(remote))
    project.git("push", "-q", "origin", "main")
    assert cli("ledger", "push").code == 0
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(remote), str(clone)], check=True)
    monkeypatch.chdir(clone)
    assert cli("init").code == 0  # fetches the (empty) shared ledger
    # Both sides now append a run with an input (a material): the histories diverge.
    monkeypatch.chdir(project.root)
    assert cli("record", "--stage", "here", "--dep", "data/raw.csv").code == 0
    assert cli("ledger", "push").code == 0
    monkeypatch.chdir(clone)
    assert cli("record", "--stage", "there", "--dep", "data/raw.csv").code == 0
    pulled = cli("ledger", "pull")
    assert pulled.code == 0, pulled.err
    assert "replayed 1" in pulled.out
    verified = cli("verify", "--ledger")
    assert verified.code == 0, verified.err
    assert "2 entries" in verified.out
