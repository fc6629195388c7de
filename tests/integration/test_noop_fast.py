"""A no-op ``status`` answers from this clone's verified state, fast, and never
from bytes it has not verified: attacks on the ledger ref and the state file
send it to the full path, which says what the ledger holds."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result

HEAVY = ("pyarrow", "pydantic", "pandas", "great_expectations", "weasyprint", "sigstore", "ray")
LEDGER = "refs/heads/auditpipe/ledger"
PIPELINE = """\
params: params.yaml
stages:
  prepare:
    cmd: python -c "import shutil; shutil.copy('data/raw.csv', 'out/prepared.csv')"
    deps: [data/raw.csv]
    params: [prepare.seed]
    outs: [out/prepared.csv]
  train:
    cmd: python -c "open('out/model.txt', 'w').write(open('out/prepared.csv').read()[::-1])"
    deps: [out/prepared.csv, src/train.py]
    params: [train.epochs]
    outs: [out/model.txt]
"""
PARAMS = "prepare:\n  seed: 1\ntrain:\n  epochs: 3\n"
PROBE = """\
import os, runpy, sys
sys.argv = ["auditpipe", *sys.argv[1:]]
try:
    runpy.run_module("auditpipe", run_name="__main__")
except SystemExit as done:
    code = done.code
with open(os.environ["NOOP_MODULES"], "w") as handle:
    handle.write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""


def status(root: Path, tmp: Path, *args: str, verb: str = "status") -> tuple[Result, set[str]]:
    """``python -m auditpipe status`` in a subprocess, and the modules it imported."""
    listing = tmp / "modules.txt"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, verb, *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NOOP_MODULES": str(listing)},
    )
    modules = set(listing.read_text().split())
    return Result(proc.returncode, proc.stdout, proc.stderr), modules


def heavy(modules: set[str]) -> list[str]:
    return [m for m in HEAVY if m in modules]


@pytest.fixture
def ran(project: Project, cli: Callable[..., Result]) -> Project:
    project.gen({"auditpipe.yaml": PIPELINE, "params.yaml": PARAMS, "out/.keep": ""})
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 0, result.err
    settle(project.root)
    return project


def settle(root: Path) -> None:
    """Age the files past the stat cache's racy window (2 s), as minutes after a run."""
    old = time.time() - 60
    for path in root.rglob("*"):
        if ".git" not in path.parts and path.is_file():
            os.utime(path, (old, old))


def state_file(project: Project) -> Path:
    return project.root / ".git" / "auditpipe" / "noop-state.json"


def test_noop_status_imports_no_heavy_module(ran: Project, tmp_path: Path) -> None:
    first, _ = status(ran.root, tmp_path)  # the full path verifies and records
    second, modules = status(ran.root, tmp_path)
    assert second.code == 0, second.err
    assert second.out == first.out and "train: up to date (run " in second.out
    assert heavy(modules) == []
    assert "dulwich" not in modules and "cyclopts" not in modules
    as_json, modules = status(ran.root, tmp_path, "--json")
    assert heavy(modules) == []
    assert [r["upToDate"] for r in json.loads(as_json.out)] == [True, True]


def slow_then_fast(project: Project, tmp: Path, *args: str) -> tuple[Result, Result]:
    """The same status twice with the state as the previous call left it, then
    once with no state (the full path); the first two must equal the last."""
    with_state, _ = status(project.root, tmp, *args)
    again, _ = status(project.root, tmp, *args)
    state_file(project).unlink(missing_ok=True)
    full, _ = status(project.root, tmp, *args)
    return with_state, again, full  # type: ignore[return-value]


@pytest.mark.parametrize(
    "change",
    ["nothing", "stale-dep", "deleted-param", "missing-dep", "modified-output"],
)
def test_fast_output_is_the_full_paths(ran: Project, tmp_path: Path, change: str) -> None:
    status(ran.root, tmp_path)  # records the state
    if change == "stale-dep":
        (ran.root / "src/train.py").write_text("print(2)\n")
    elif change == "deleted-param":
        (ran.root / "params.yaml").write_text("prepare:\n  seed: 1\ntrain: {}\n")
    elif change == "missing-dep":
        (ran.root / "src/train.py").unlink()
    elif change == "modified-output":
        (ran.root / "out/model.txt").write_text("tampered\n")
    for args in ((), ("--json",), ("train",)):
        with_state, again, full = slow_then_fast(ran, tmp_path, *args)  # type: ignore[misc]
        assert (with_state.code, with_state.out) == (full.code, full.out)
        assert (again.code, again.out) == (full.code, full.out)
    assert ("stale" in full.out) == (change != "nothing")


def test_rolled_back_ledger_is_not_answered_from_the_state(ran: Project, tmp_path: Path) -> None:
    """Attack (a): the ledger ref is moved back to before the runs; the state
    recorded for the old head must not say "up to date"."""
    status(ran.root, tmp_path)
    _, modules = status(ran.root, tmp_path)
    assert heavy(modules) == []  # the state is in use
    root_commit = ran.git("rev-list", "--max-parents=0", LEDGER).split()[0]
    ran.git("update-ref", LEDGER, root_commit)
    after, modules = status(ran.root, tmp_path)
    assert after.code == 0, after.err
    assert "up to date" not in after.out and "never run" in after.out
    assert "pydantic" in modules


def test_untrusted_run_is_never_answered_from_the_state(
    ran: Project, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """Attack (a): the ledger is rewritten to hold a run signed by a key the
    project does not trust, with the lock naming it. The full path answers (the
    run does not count: stale, naming the untrusted signer) and the state never
    takes that run in."""
    status(ran.root, tmp_path)
    assert cli("keys", "generate", "--name", "evil").code == 0
    root_commit = ran.git("rev-list", "--max-parents=0", LEDGER).split()[0]
    ran.git("update-ref", LEDGER, root_commit)
    (ran.root / "out/model.txt").unlink()
    rogue = cli("run", "--key", "evil")
    assert rogue.code == 0, rogue.err
    lock = json.loads((ran.root / "auditpipe.lock").read_text())["stages"]
    for _ in range(2):
        after, modules = status(ran.root, tmp_path)
        assert after.code == 0, after.err
        assert "up to date" not in after.out and "train: stale" in after.out
        assert f"its matching run {lock['train'][:12]} is signed by an untrusted" in after.out
        assert "pydantic" in modules  # the full path, every time: the run is not trusted
    state = json.loads(state_file(ran).read_text())["body"]
    assert state["stages"] == {}


def test_tampered_entry_is_not_taken_into_the_state(ran: Project, tmp_path: Path) -> None:
    """Attack (a): a new ledger commit carries a run's entry with its signature
    altered. The id still matches the payload, so the full path reads it; the
    state must not vouch for it."""
    from dulwich.objects import Blob, Commit
    from dulwich.repo import Repo

    status(ran.root, tmp_path)
    lock = json.loads((ran.root / "auditpipe.lock").read_text())["stages"]
    entry = lock["train"]
    path = f"entries/{entry[:2]}/{entry}.sigstore.json".encode()
    with Repo(str(ran.root)) as repo:
        head = repo.refs[LEDGER.encode()]
        commit = repo[head]
        bundle = json.loads(repo[_lookup(repo, commit.tree, path)].data)
        sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
        flipped = ("A" if sig[10] != "A" else "B").join((sig[:10], sig[11:]))
        bundle["dsseEnvelope"]["signatures"][0]["sig"] = flipped
        blob = Blob.from_string(json.dumps(bundle).encode())
        repo.object_store.add_object(blob)
        tree = _replace(repo, commit.tree, path.split(b"/"), blob.id)
        forged = Commit()
        forged.tree, forged.parents = tree, [head]
        forged.author = forged.committer = b"x <x@example.com>"
        forged.commit_time = forged.author_time = commit.commit_time + 1
        forged.commit_timezone = forged.author_timezone = 0
        forged.message = b"tamper\n"
        repo.object_store.add_object(forged)
        repo.refs[LEDGER.encode()] = forged.id
    for _ in range(2):
        after, modules = status(ran.root, tmp_path)
        assert "pydantic" in modules, after.out
    assert "train" not in json.loads(state_file(ran).read_text())["body"]["stages"]


def _lookup(repo: object, tree_id: bytes, path: bytes) -> bytes:
    from dulwich.object_store import tree_lookup_path

    return tree_lookup_path(repo.object_store.__getitem__, tree_id, path)[1]  # type: ignore[attr-defined]


def _replace(repo: object, tree_id: bytes, parts: list[bytes], blob: bytes) -> bytes:
    from dulwich.objects import Tree

    store = repo.object_store  # type: ignore[attr-defined]
    tree = store[tree_id]
    new = Tree()
    for name, mode, sha in tree.items():
        new.add(name, mode, sha)
    mode, sha = tree[parts[0]]
    new.add(parts[0], mode, blob if len(parts) == 1 else _replace(repo, sha, parts[1:], blob))
    store.add_object(new)
    return new.id  # type: ignore[no-any-return]


def test_hand_edited_state_is_not_trusted(ran: Project, tmp_path: Path) -> None:
    """Attack (b): after an output changed, the state file is edited to claim the
    new bytes are what the verified run made. It is not authenticated by this
    user's key, so the full path answers: stale."""
    status(ran.root, tmp_path)
    (ran.root / "out/model.txt").write_text("tampered\n")
    doc = json.loads(state_file(ran).read_text())
    digest = hashlib.sha256(b"tampered\n").hexdigest()
    doc["body"]["stages"]["train"]["outputs"]["out/model.txt"] = digest
    state_file(ran).write_text(json.dumps(doc))
    after, modules = status(ran.root, tmp_path)
    assert "train: stale" in after.out and "out/model.txt modified" in after.out
    assert "pydantic" in modules
    # A state copied in from elsewhere (another key) is no better.
    state_file(ran).write_text(json.dumps({**doc, "mac": "0" * 64}))
    again, _ = status(ran.root, tmp_path)
    assert "train: stale" in again.out


def test_noop_run_is_fast_and_prints_what_the_full_path_prints(
    ran: Project, tmp_path: Path
) -> None:
    status(ran.root, tmp_path)  # records the verdicts at this head
    lock = (ran.root / "auditpipe.lock").read_bytes()
    fast, modules = status(ran.root, tmp_path, verb="run")
    assert fast.code == 0, fast.err
    assert "every stage is up to date" in fast.err and "2 skipped" in fast.err
    assert heavy(modules) == [] and "dulwich" not in modules and "cyclopts" not in modules
    state_file(ran).unlink()
    full, modules = status(ran.root, tmp_path, verb="run")
    assert "pydantic" in modules
    assert (full.code, full.out, full.err) == (fast.code, fast.out, fast.err)
    # Neither re-signs the lock: a no-op run leaves it as it was.
    assert (ran.root / "auditpipe.lock").read_bytes() == lock
    parallel, modules = status(ran.root, tmp_path, "-j", "2", verb="run")
    assert heavy(modules) == [] and (parallel.code, parallel.err) == (full.code, full.err)


def test_noop_run_after_a_rollback_runs_the_stages(ran: Project, tmp_path: Path) -> None:
    """Attack (a) on ``run``: with the ledger ref moved back, the stages run again
    instead of being skipped on the strength of the old state."""
    status(ran.root, tmp_path)
    _, modules = status(ran.root, tmp_path, verb="run")
    assert heavy(modules) == []
    root_commit = ran.git("rev-list", "--max-parents=0", LEDGER).split()[0]
    ran.git("update-ref", LEDGER, root_commit)
    after, _ = status(ran.root, tmp_path, verb="run")
    assert after.code == 0, after.err
    assert "2 ran" in after.err and "every stage is up to date" not in after.err


def test_noop_run_with_a_missing_key_fails_as_the_full_path_does(
    ran: Project, tmp_path: Path
) -> None:
    status(ran.root, tmp_path)
    _, modules = status(ran.root, tmp_path, verb="run")
    assert heavy(modules) == []
    for key in (ran.config_dir / "keys").iterdir():
        key.rename(tmp_path / key.name)
    after, _ = status(ran.root, tmp_path, verb="run")
    assert after.code == 2 and "error:" in after.err
