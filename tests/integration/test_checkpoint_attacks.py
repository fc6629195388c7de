"""Attacks on a shared ledger, defeated by auditpipe.lock's checkpoint and the
index check: a bare remote, an attacker's clone with write access, and a fresh
CI clone with no .git/auditpipe state. Every entry is signed by the project's
own trusted key, so only the defect under test can make a check fail."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest import CodeState, Environment, Runner, StageRun, Subject, build_statement
from auditpipe.manifest.predicates import Digest, FailedExpectation, Material, Validation
from auditpipe.pipeline.recorder import sign_and_append
from auditpipe.signing.factory import local_signer
from tests.conftest import Project, Result, git

Cli = Callable[..., Result]
LEDGER = "refs/heads/auditpipe/ledger"
POLICY = (
    "version: 1\nname: p\nartifacts: ['models/*.pkl']\nrules: [gates_passed, trusted_signers]\n"
)


@dataclass
class Shared:
    project: Project
    remote: Path
    tmp: Path
    failed: str
    """The later gate_failed run of ``prep`` that makes the gate deny."""


def gate_failed_run(project: Project, stage: str) -> str:
    """Append a signed `gate_failed` run of ``stage`` (finished after every other run)."""
    data = project.root / "out/prep.txt"
    digest = Digest(sha256=hashlib.sha256(data.read_bytes()).hexdigest())
    run = StageRun(
        stage=stage,
        status="gate_failed",
        code=CodeState(dirty=False),
        materials=[Material(name="in/raw.txt", digest=digest)],
        # The failed gate judged the very bytes in the tree: this run is the current one.
        products=[Material(name="out/prep.txt", digest=digest)],
        validations=[
            Validation(
                suite="prep-suite",
                suite_path="expectations/prep.json",
                suite_digest=digest,
                data="out/prep.txt",
                data_digest=digest,
                success=False,
                failed_expectations=[FailedExpectation(type="expect_column_values_to_be_between")],
            )
        ],
        environment=Environment(python="3.11", platform="test", packages_digest="0" * 64),
        started_at="2030-01-01T00:00:00Z",
        finished_at="2030-01-01T00:00:01Z",
        runner=Runner(user="ci", host="ci"),
    )
    statement = build_statement(
        [Subject(name="out/prep.txt", digest={"sha256": digest.sha256})], run
    )
    with Ledger.open(str(project.root)) as ledger:
        return sign_and_append(ledger, local_signer(), statement)


@pytest.fixture
def shared(project: Project, cli: Cli, tmp_path: Path) -> Shared:
    """The developer flow: record runs, push the ledger, commit model + lock, push."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    project.git("remote", "add", "origin", str(remote))
    project.gen(
        {
            "in/raw.txt": "abc\n",
            "out/prep.txt": "ABC\n",
            "models/model.pkl": "model\n",
            "policies/p.yaml": POLICY,
        }
    )
    project.commit("data and policy")
    for args in (
        ("--stage", "prep", "--dep", "in/raw.txt", "--out", "out/prep.txt"),
        ("--stage", "train", "--dep", "out/prep.txt", "--out", "models/model.pkl"),
    ):
        assert cli("record", *args).code == 0
    failed = gate_failed_run(project, "prep")
    pushed = cli("ledger", "push", "origin")
    assert pushed.code == 0, pushed.err
    assert "checkpoint re-issued" in pushed.err
    project.commit("model, with its lock")
    project.git("push", "-q", "origin", "main")
    return Shared(project, remote, tmp_path, failed)


def clone(shared: Shared, name: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = shared.tmp / name
    git(shared.tmp, "clone", "-q", str(shared.remote), str(path))
    monkeypatch.chdir(path)
    return path


def fetch_ledger(path: Path) -> None:
    """A plain `git fetch` of the ledger: no auditpipe check runs on the way in."""
    git(path, "fetch", "-q", "origin", f"+{LEDGER}:{LEDGER}")


def force_push_ledger(attacker: Path, commit: str) -> None:
    git(attacker, "update-ref", LEDGER, commit)
    git(attacker, "push", "-q", "-f", "origin", f"{LEDGER}:{LEDGER}")


def lock_size(root: Path) -> int:
    return int(json.loads((root / "auditpipe.lock").read_text())["checkpoint"][1])


def test_control_fresh_clone_verifies_and_gate_denies_on_the_failed_gate(
    shared: Shared, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = clone(shared, "fresh", monkeypatch)
    assert not (fresh / ".git/auditpipe").exists()
    pulled = cli("ledger", "pull", "origin")
    assert pulled.code == 0, pulled.err
    verified = cli("verify", "--ledger")
    assert verified.code == 0, verified.err
    assert "consistent with the checkpoint in auditpipe.lock" in verified.out
    denied = cli("gate", "--policy", "policies/p.yaml")
    assert denied.code == 1
    assert f"the current run of stage 'prep' ({shared.failed[:12]}" in denied.out


def _attacker(shared: Shared, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    attacker = clone(shared, "attacker", monkeypatch)
    fetch_ledger(attacker)
    tip = git(attacker, "rev-parse", LEDGER).strip()
    return attacker, tip


def _assert_pinned_failure(result: Result, size: int) -> None:
    assert result.code == 1, result.out + result.err
    assert f"auditpipe.lock: checkpoint of {size} entries" in result.err
    assert "push the ledger, then commit auditpipe.lock" in result.err
    assert "Traceback" not in result.err


def test_truncated_ledger_fails_in_a_fresh_clone(
    shared: Shared, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker, tip = _attacker(shared, monkeypatch)
    force_push_ledger(attacker, f"{tip}~1")  # drop the gate_failed run
    size = lock_size(shared.project.root)

    fresh = clone(shared, "fresh", monkeypatch)
    pulled = cli("ledger", "pull", "origin")  # the example workflow's step
    _assert_pinned_failure(pulled, size)
    assert f"but the ledger has only {size - 1}" in pulled.err

    fresh2 = clone(shared, "fresh2", monkeypatch)
    fetch_ledger(fresh2)  # a workflow that skipped `ledger pull`
    for args in (("verify", "--ledger"), ("gate", "--policy", "policies/p.yaml")):
        _assert_pinned_failure(cli(*args), size)
    assert fresh.exists()


def test_rewritten_ledger_of_the_same_size_fails_in_a_fresh_clone(
    shared: Shared, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker, tip = _attacker(shared, monkeypatch)
    git(attacker, "update-ref", LEDGER, f"{tip}~1")
    # replace the gate_failed run with an innocent entry, signed with the trusted key
    recorded = cli("record", "--stage", "docs", "--out", "README.md")
    assert recorded.code == 0, recorded.err
    git(attacker, "push", "-q", "-f", "origin", f"{LEDGER}:{LEDGER}")
    size = lock_size(shared.project.root)

    fresh = clone(shared, "fresh", monkeypatch)
    fetch_ledger(fresh)
    verified = cli("verify", "--ledger")
    _assert_pinned_failure(verified, size)
    assert f"is not a prefix of the ledger ({size} entries)" in verified.err
    gated = cli("gate", "--policy", "policies/p.yaml")
    _assert_pinned_failure(gated, size)
    assert "ALLOW" not in gated.out


def test_removed_index_paths_of_a_failed_run_fail_gate_and_verify(
    shared: Shared, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker, tip = _attacker(shared, monkeypatch)
    env = {**os.environ, "GIT_INDEX_FILE": str(attacker / ".git/ledger-index")}
    subprocess.run(["git", "read-tree", tip], cwd=attacker, env=env, check=True)
    hidden = subprocess.run(
        ["git", "ls-files", "index/"], cwd=attacker, env=env, check=True, capture_output=True,
        text=True,
    ).stdout.split()  # fmt: skip
    hidden = [p for p in hidden if p.endswith(shared.failed)]
    assert hidden
    subprocess.run(["git", "rm", "-q", "--cached", *hidden], cwd=attacker, env=env, check=True)
    tree = subprocess.run(
        ["git", "write-tree"], cwd=attacker, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    commit = git(attacker, "commit-tree", tree, "-p", tip, "-m", "tidy").strip()
    git(attacker, "update-ref", LEDGER, commit)
    git(attacker, "push", "-q", "origin", f"{LEDGER}:{LEDGER}")  # a fast-forward: no force

    fresh = clone(shared, "fresh", monkeypatch)
    fetch_ledger(fresh)
    stage_path = next(p for p in hidden if p.startswith("index/stage/"))
    for args in (("gate", "--policy", "policies/p.yaml"), ("verify", "models/model.pkl")):
        result = cli(*args)
        assert result.code == 1, result.out + result.err
        assert f"{stage_path}: a path the entries imply is absent" in result.err
        assert "ALLOW" not in result.out


def test_ci_flow_commits_the_lock_back(
    shared: Shared, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI on main: pull, record, push the ledger, commit the lock back; a fresh clone verifies."""
    ci = clone(shared, "ci", monkeypatch)
    assert cli("ledger", "pull", "origin").code == 0
    (ci / "models/model.pkl").write_text("model v2\n")
    recorded = cli("record", "--stage", "train", "--dep", "out/prep.txt", "--out",
                   "models/model.pkl")  # fmt: skip
    assert recorded.code == 0, recorded.err
    assert cli("ledger", "push", "origin").code == 0
    git(ci, "add", "auditpipe.lock", "models/model.pkl")
    git(ci, "commit", "-q", "-m", "auditpipe: lock [skip ci]")
    git(ci, "push", "-q", "origin", "HEAD:main")
    size = lock_size(ci)

    fresh = clone(shared, "fresh", monkeypatch)
    assert cli("ledger", "pull", "origin").code == 0
    verified = cli("verify", "--ledger")
    assert verified.code == 0, verified.err
    assert lock_size(fresh) == size
    lock = json.loads((fresh / "auditpipe.lock").read_text())
    assert lock["stages"]["train"] == recorded.out.strip()
