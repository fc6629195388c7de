"""`auditpipe doctor`: what a clone can see about the protections trust relies on."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Project, Result, git

Cli = Callable[..., Result]
LEDGER = "refs/heads/auditpipe/ledger"
EXAMPLE = Path(__file__).parents[2] / "examples" / "ci" / "github-actions.yml"


def findings(cli: Cli, *args: str) -> tuple[int, dict[str, dict[str, str]]]:
    result = cli("doctor", *args, "--json")
    assert "Traceback" not in result.err
    report = json.loads(result.out)
    assert report["ok"] == (result.code == 0)
    return result.code, {f["check"]: f for f in report["findings"]}


def record(cli: Cli, project: Project, name: str) -> str:
    project.gen({name: name})
    result = cli("record", "--stage", "s", "--out", name)
    assert result.code == 0, result.err
    return result.out.strip()


def shared(project: Project, tmp_path: Path, cli: Cli) -> Path:
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", bare.name)
    project.git("remote", "add", "origin", str(bare))
    assert cli("ledger", "push").code == 0
    return bare


def test_a_well_kept_clone_has_no_problems(project: Project, cli: Cli, tmp_path: Path) -> None:
    record(cli, project, "a.txt")
    shared(project, tmp_path, cli)
    (project.root / ".github/workflows").mkdir(parents=True)
    shutil.copy(EXAMPLE, project.root / ".github/workflows/gate.yml")
    (project.root / "auditpipe.lock").write_text("")
    project.commit("ci")
    # git moved the ledger ref forward itself: a fast-forward in the reflog.
    before = project.git("rev-parse", LEDGER).strip()
    record(cli, project, "b.txt")
    after = project.git("rev-parse", LEDGER).strip()
    (project.root / ".git" / LEDGER).write_text(before + "\n")  # unlogged, as auditpipe moves it
    project.git("update-ref", LEDGER, after, before)  # git logs this fast-forward
    assert cli("verify", "--ledger").code == 0

    code, seen = findings(cli, "--trust-ref", "HEAD")
    assert code == 0, json.dumps(seen, indent=1)
    assert seen["trust"]["severity"] == "ok" and "ref HEAD (commit" in seen["trust"]["message"]
    assert seen["reflog"]["severity"] == "ok" and "all fast-forward" in seen["reflog"]["message"]
    assert seen["remote"]["message"] == "as last fetched: 1 local commit(s) not on origin"
    assert seen["lock"]["severity"] == "ok"
    assert seen["ci"]["severity"] == "ok" and "required workflow" in seen["ci"]["message"]
    text = cli("doctor", "--trust-ref", "HEAD")
    assert text.code == 0
    assert "forbid force-pushes to auditpipe/ledger" in text.out


def test_a_force_updated_ledger_ref_is_a_problem(
    project: Project, cli: Cli, tmp_path: Path
) -> None:
    first = record(cli, project, "a.txt")
    record(cli, project, "b.txt")
    shared(project, tmp_path, cli)
    assert cli("verify", "--ledger").code == 0
    code, seen = findings(cli)
    assert code == 0, json.dumps(seen, indent=1)
    # Someone moves the ledger back with plain git (what a rewrite then force-fetch does).
    head = project.git("rev-parse", LEDGER).strip()
    older = project.git("rev-parse", f"{LEDGER}~1").strip()
    project.git("update-ref", LEDGER, older, head)
    code, seen = findings(cli)
    assert code == 1
    assert seen["reflog"]["severity"] == "problem"
    assert f"{head[:12]} -> {older[:12]}" in seen["reflog"]["message"]
    assert "force" in seen["reflog"]["message"]
    assert seen["verified"]["severity"] == "problem"
    assert first  # the entry itself is still there; the history is what changed


def test_a_gate_workflow_without_a_trust_ref_is_a_problem(project: Project, cli: Cli) -> None:
    (project.root / ".github/workflows").mkdir(parents=True)
    (project.root / ".github/workflows/gate.yml").write_text(
        "on: pull_request\njobs:\n  g:\n    steps:\n"
        "      - run: auditpipe gate --policy policies/default.yaml\n"
    )
    code, seen = findings(cli)
    assert code == 1
    assert seen["ci"]["severity"] == "problem"
    assert ".github/workflows/gate.yml" in seen["ci"]["message"]
    assert seen["trust"]["severity"] == "note"
    assert seen["lock"]["severity"] == "note" and "auditpipe.lock" in seen["lock"]["message"]


def test_a_missing_trust_ref_is_a_problem(project: Project, cli: Cli) -> None:
    code, seen = findings(cli, "--trust-ref", "origin/nope")
    assert code == 1
    assert "does not exist" in seen["trust"]["message"]
