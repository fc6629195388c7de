"""auditpipe.lock as a user meets it: written by record and run, rebuilt by
`auditpipe lock`, and refused with exit 2 (naming the file and what to do) when
it is malformed, truncated, hand-edited or wrongly signed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from tests.conftest import Project, Result

Cli = Callable[..., Result]


@pytest.fixture
def locked(project: Project, cli: Cli) -> Project:
    project.gen({"in/raw.txt": "abc\n", "models/model.pkl": "m\n"})
    assert cli("record", "--stage", "prep", "--dep", "in/raw.txt", "--out", "in/raw.txt").code == 0
    assert cli("record", "--stage", "train", "--out", "models/model.pkl").code == 0
    return project


def lock_doc(project: Project) -> dict:
    return json.loads((project.root / "auditpipe.lock").read_text())


def test_lock_is_deterministic_one_fact_per_line(locked: Project, cli: Cli) -> None:
    text = (locked.root / "auditpipe.lock").read_text()
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert set(doc["stages"]) == {"prep", "train"}
    origin, size, root = doc["checkpoint"][:3]
    ledger_root = locked.git("rev-list", "--max-parents=0", "auditpipe/ledger").strip()
    assert origin == f"auditpipe.dev/ledger/{ledger_root}"
    assert size == "2"
    assert len(base64.b64decode(root)) == 32
    assert doc["checkpoint"][3] == ""
    assert doc["checkpoint"][4].startswith(f"\u2014 {origin} ")
    assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # `auditpipe lock` rebuilds the same stages from the tree and the ledger
    before = doc["stages"]
    (locked.root / "auditpipe.lock").write_text("<<<<<<< ours\n")  # a merge conflict
    rebuilt = cli("lock")
    assert rebuilt.code == 0, rebuilt.err
    assert lock_doc(locked)["stages"] == before
    assert cli("verify", "--ledger").code == 0


def _expect_exit_2(cli: Cli, what: str) -> None:
    for args in (("verify", "--ledger"), ("verify", "models/model.pkl")):
        result = cli(*args)
        assert result.code == 2, result.out + result.err
        assert "auditpipe.lock" in result.err
        assert what in result.err
        assert "auditpipe lock" in result.err  # what to do
        assert "Traceback" not in result.err


def test_malformed_lock(locked: Project, cli: Cli) -> None:
    (locked.root / "auditpipe.lock").write_text("{not json\n")
    _expect_exit_2(cli, "not valid JSON")


def test_truncated_lock(locked: Project, cli: Cli) -> None:
    text = (locked.root / "auditpipe.lock").read_text()
    (locked.root / "auditpipe.lock").write_text(text[: len(text) // 2])
    _expect_exit_2(cli, "not valid JSON")


def test_hand_edited_checkpoint_size(locked: Project, cli: Cli) -> None:
    doc = lock_doc(locked)
    doc["checkpoint"][1] = "1"
    (locked.root / "auditpipe.lock").write_text(json.dumps(doc))
    _expect_exit_2(cli, "signature does not verify")


def test_wrong_checkpoint_signature(locked: Project, cli: Cli) -> None:
    doc = lock_doc(locked)
    dash, name, blob = doc["checkpoint"][4].split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    doc["checkpoint"][4] = f"{dash} {name} {base64.b64encode(bytes(raw)).decode()}"
    (locked.root / "auditpipe.lock").write_text(json.dumps(doc))
    _expect_exit_2(cli, "signature does not verify")


def test_lock_with_a_bad_entry_id(locked: Project, cli: Cli) -> None:
    doc = lock_doc(locked)
    doc["stages"]["train"] = "not-an-id"
    (locked.root / "auditpipe.lock").write_text(json.dumps(doc))
    _expect_exit_2(cli, "is not an entry id")


def test_unpushed_lock_in_another_clone_says_push_then_commit(
    locked: Project, cli: Cli, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock committed without pushing the ledger fails where the ledger lacks its entries."""
    from tests.conftest import git

    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(locked.root), str(other))
    git(other, "fetch", "-q", "origin", "+refs/heads/auditpipe/ledger:refs/heads/auditpipe/ledger")
    monkeypatch.chdir(locked.root)
    assert cli("record", "--stage", "eval", "--out", "models/model.pkl").code == 0
    (other / "auditpipe.lock").write_bytes((locked.root / "auditpipe.lock").read_bytes())
    monkeypatch.chdir(other)
    result = cli("verify", "--ledger")
    assert result.code == 1
    assert "auditpipe.lock: checkpoint of 3 entries" in result.err
    assert "push the ledger, then commit auditpipe.lock" in result.err


def test_run_locks_every_stage_it_ran_or_skipped(project: Project, cli: Cli) -> None:
    from tests.integration.test_policy_gate import PIPELINE, STEPS, params

    project.gen({"auditpipe.yaml": PIPELINE, "params.yaml": params(), "in/raw.txt": "abc\n",
                 "out/.keep": "", "models/.keep": "", "metrics/.keep": "", **STEPS})  # fmt: skip
    project.commit("pipeline")
    assert cli("run").code == 0
    runs = {r["stage"]: r["id"] for r in json.loads(cli("log", "--json").out)}
    assert lock_doc(project)["stages"] == runs
    assert lock_doc(project)["checkpoint"][1] == "3"
    assert cli("run").code == 0  # all skipped: the lock names the same runs
    assert lock_doc(project)["stages"] == runs


def test_record_stage_updates_the_lock(project: Project) -> None:
    import auditpipe

    project.gen({"models/model.pkl": "m\n"})
    with auditpipe.record_stage("train", outs=["models/model.pkl"], root=project.root) as run:
        run.log_metrics({"accuracy": 0.9})
    assert lock_doc(project)["stages"] == {"train": run.entry_id}


def test_lock_at_revision_reads_git_objects_not_the_tree(locked: Project) -> None:
    from auditpipe.errors import RepositoryError
    from auditpipe.lock import lock_at_revision, parse_lock
    from auditpipe.workspace import Workspace

    workspace = Workspace.discover(locked.root)
    assert lock_at_revision(workspace, "HEAD") is None  # not committed yet
    committed = (locked.root / "auditpipe.lock").read_bytes()
    locked.commit("lock")
    (locked.root / "auditpipe.lock").write_text("edited in the tree\n")
    assert lock_at_revision(workspace, "HEAD") == committed
    assert parse_lock(committed, "HEAD:auditpipe.lock").stages == lock_doc_from(committed)
    with pytest.raises(RepositoryError):
        lock_at_revision(workspace, "no-such-ref")


def lock_doc_from(data: bytes) -> dict:
    return json.loads(data)["stages"]
