"""Plain git reads the ledger: fsck, log, show, and the user's checkout untouched.

Entries are appended with the real CLI (``auditpipe record``) and then read back
with nothing but the ``git`` binary, the way an auditor without auditpipe would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import rfc8785

from auditpipe.manifest import STAGE_RUN_V1
from auditpipe.manifest.schema import load as load_schema
from tests.conftest import GIT_ENV, Project, Result

LEDGER = "auditpipe/ledger"

Cli = Callable[..., Result]


def git_bytes(root: Path, *args: str) -> bytes:
    """The real git binary's stdout as bytes (no newline translation, no decoding)."""
    proc = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, env={**os.environ, **GIT_ENV}
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def record(cli: Cli, *args: str) -> str:
    result = cli("record", *args)
    assert result.code == 0, result.err
    entry_id = result.out.strip()
    assert len(entry_id) == 64, result.out
    return entry_id


def checkout_snapshot(project: Project) -> dict[str, object]:
    """Everything of the user's own that auditpipe promises not to touch
    (``auditpipe.lock``, the one file it keeps in the working tree, aside)."""
    git_dir = project.root / ".git"
    tree: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(project.root):
        dirnames[:] = [d for d in dirnames if not (dirpath == str(project.root) and d == ".git")]
        for name in filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(project.root).as_posix()
            if rel == "auditpipe.lock":
                continue
            tree[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    refs = project.git("for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    return {
        "HEAD file": (git_dir / "HEAD").read_bytes(),
        "HEAD commit": project.git("rev-parse", "HEAD"),
        "index": hashlib.sha256((git_dir / "index").read_bytes()).hexdigest(),
        "working tree": tree,
        "status": project.git(
            "status", "--porcelain=v1", "--untracked-files=all", "--", ".", ":!auditpipe.lock"
        ),
        "other refs": [r for r in refs if not r.startswith(f"refs/heads/{LEDGER} ")],
    }


def payload_of(bundle_bytes: bytes) -> bytes:
    return base64.b64decode(json.loads(bundle_bytes)["dsseEnvelope"]["payload"], validate=True)


@pytest.fixture
def three_runs(project: Project, cli: Cli) -> tuple[Project, list[str], dict[str, object]]:
    """Three `auditpipe record` appends; returns the ids and the checkout before them."""
    project.gen({"models/model.pkl": b"\x80\x04model-bytes", "metrics/train.json": '{"acc": 1}'})
    project.commit("model")
    before = checkout_snapshot(project)
    ids = [
        record(cli, "--stage", "prepare", "--dep", "data/raw.csv", "--out", "README.md"),
        record(
            cli,
            "--stage",
            "train",
            "--cmd",
            "python src/train.py",
            "--dep",
            "src/train.py",
            "--dep",
            "README.md",
            "--out",
            "models/model.pkl",
            "--param",
            "train.lr=0.01",
            "--param",
            "train.layers=[64, 32]",
            "--metric",
            "acc=0.93",
        ),
        record(cli, "--stage", "evaluate", "--dep", "models/model.pkl", "--exit-code", "3"),
    ]
    return project, ids, before


def test_git_fsck_strict_accepts_the_ledger(three_runs) -> None:
    project, _ids, _ = three_runs
    proc = subprocess.run(
        ["git", "fsck", "--strict", "--no-dangling", "--no-progress"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # fsck reports object-format problems as "error"/"warning" lines even when it
    # exits 0 for some of them; a ledger written by auditpipe has none.
    assert "error" not in (proc.stdout + proc.stderr).lower()
    assert "warning" not in (proc.stdout + proc.stderr).lower()


def test_git_log_lists_one_commit_per_entry_plus_root(three_runs) -> None:
    project, ids, _ = three_runs
    shas = project.git("log", "--format=%H", LEDGER).split()
    assert len(shas) == len(ids) + 1
    assert project.git("rev-list", "--max-parents=0", LEDGER).split() == [shas[-1]]
    assert project.git("rev-list", "--merges", LEDGER).strip() == ""
    # newest first, each commit names the entry it added
    bodies = [project.git("log", "-1", "--format=%B", sha) for sha in shas[:-1]]
    for entry_id, body in zip(reversed(ids), bodies, strict=True):
        assert f"Entry: {entry_id}" in body
    assert project.git("log", "-1", "--format=%s", shas[-1]).strip() == (
        "auditpipe: ledger created"
    )
    assert project.git("ls-tree", "-r", shas[-1]).strip() == ""  # the root commit is empty


def test_each_commit_only_adds_files(three_runs) -> None:
    """Append-only as plain git sees it: every commit adds paths, none changes one."""
    project, ids, _ = three_runs
    shas = project.git("log", "--format=%H", LEDGER).split()
    for entry_id, sha in zip(reversed(ids), shas[:-1], strict=True):
        changes = project.git("diff-tree", "-r", "--no-commit-id", "--name-status", f"{sha}~1", sha)
        statuses = [line.split("\t") for line in changes.splitlines()]
        assert {status for status, _path in statuses} == {"A"}, changes
        entry_files = [p for _s, p in statuses if p.startswith("entries/")]
        assert entry_files == [f"entries/{entry_id[:2]}/{entry_id}.sigstore.json"]


def test_git_show_prints_the_exact_signed_statement(three_runs, cli: Cli, tmp_path: Path) -> None:
    project, ids, _ = three_runs
    schema = load_schema(STAGE_RUN_V1)
    for entry_id in ids:
        stored = git_bytes(
            project.root, "show", f"{LEDGER}:entries/{entry_id[:2]}/{entry_id}.sigstore.json"
        )
        payload = payload_of(stored)

        shown = cli("show", entry_id, "--json")
        assert shown.code == 0, shown.err
        report = json.loads(shown.out)
        assert report["id"] == entry_id
        assert report["bundle"] == json.loads(stored)
        # The payload is exactly the RFC 8785 form of the statement auditpipe shows,
        # as an independent canonicalizer computes it.
        assert json.loads(payload) == report["statement"]
        assert rfc8785.dumps(report["statement"]) == payload
        assert hashlib.sha256(payload).hexdigest() == entry_id

        # ... and `sha256sum` of the payload, as an auditor would run it, is the id
        payload_file = tmp_path / f"{entry_id}.payload"
        payload_file.write_bytes(payload)
        sha256sum = subprocess.run(
            ["sha256sum", str(payload_file)], capture_output=True, text=True, check=True
        )
        assert sha256sum.stdout.split()[0] == entry_id

        jsonschema.validate(report["statement"], schema, cls=jsonschema.Draft202012Validator)


def test_recorded_facts_are_in_the_statement(three_runs, cli: Cli) -> None:
    """A control for the show test: the statement is the run that was recorded."""
    project, ids, _ = three_runs
    statement = json.loads(cli("show", ids[1], "--json").out)["statement"]
    predicate = statement["predicate"]
    assert predicate["stage"] == "train"
    assert predicate["status"] == "succeeded"
    assert predicate["params"] == {"train": {"lr": 0.01, "layers": [64, 32]}}
    assert predicate["metrics"] == {"acc": 0.93}
    model_sha = hashlib.sha256((project.root / "models/model.pkl").read_bytes()).hexdigest()
    assert statement["subject"] == [{"name": "models/model.pkl", "digest": {"sha256": model_sha}}]
    failed = json.loads(cli("show", ids[2], "--json").out)["statement"]["predicate"]
    assert (failed["status"], failed["exitCode"]) == ("failed", 3)


def test_appends_leave_head_index_and_working_tree_byte_identical(three_runs) -> None:
    project, _ids, before = three_runs
    after = checkout_snapshot(project)
    assert after == before
    # ... and the snapshot really covers the checkout: a change would show
    (project.root / "README.md").write_text("changed\n")
    assert checkout_snapshot(project)["working tree"] != before["working tree"]


def test_plain_git_can_read_the_stage_index(three_runs) -> None:
    project, ids, _ = three_runs
    listed = project.git("ls-tree", "-r", "--name-only", LEDGER, "index/stage/train").split()
    assert [Path(p).name for p in listed] == [ids[1]]
