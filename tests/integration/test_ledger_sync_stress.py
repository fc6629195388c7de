"""Sync under contention and crashes, with real processes and a real `git daemon`:
clones pushing at once never lose an entry or force the remote; a push or pull
killed mid-way never leaves the local ledger unverifiable."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditpipe.ledger import sync
from auditpipe.workspace import Workspace
from tests.conftest import Project, git
from tests.integration import test_ledger_sync as base
from tests.integration.test_ledger_sync import (
    LEDGER,
    GitServer,
    append,
    clone,
    entries_at,
    head,
    verify,
)

daemon, origin = base.daemon, base.origin  # the `git daemon` fixtures, shared

# Appends COUNT entries (0: until killed), syncing after every EVERY-th one: push
# when COUNT is given, else pull and push in turn. Waits for a line on stdin first.
WORKER = """
import sys
from auditpipe.ledger import sync
from auditpipe.ledger.ledger import Ledger
from auditpipe.pipeline.recorder import RunFacts, build, sign_and_append
from auditpipe.signing.factory import local_signer
from auditpipe.workspace import Workspace

root, count, every, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
workspace = Workspace.discover(root)
signer = local_signer()
print("ready", flush=True)
sys.stdin.readline()
n = 0
while count == 0 or n < count:
    n += 1
    with Ledger(workspace) as ledger:
        facts = RunFacts(stage=tag, command=f"step {n}", params={"n": n, "tag": tag})
        print("entry", sign_and_append(ledger, signer, build(ledger, facts)), flush=True)
    if n % every == 0:
        verb = sync.push if count or n % 2 else sync.pull
        print("sync", verb.__name__, flush=True)
        result = verb(workspace)
        print("synced", result.attempts, result.replayed, flush=True)
"""


def _worker(root: Path, count: int, every: int, tag: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(root), str(count), str(every), tag],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


@pytest.mark.slow
def test_four_clones_pushing_at_once_lose_nothing_and_never_force(
    project: Project, origin: GitServer, tmp_path: Path
) -> None:
    clones = [clone(origin, tmp_path / f"clone{i}") for i in range(4)]
    workers = [_worker(root, 20, 5, f"clone{i}") for i, root in enumerate(clones)]
    for proc in workers:
        _go(proc)
    outputs = [proc.communicate(timeout=180) for proc in workers]
    for proc, (_out, err) in zip(workers, outputs, strict=True):
        assert proc.returncode == 0, err
    lines = [line.split() for out, _ in outputs for line in out.splitlines()]
    written = {words[1] for words in lines if words[0] == "entry"}
    pushes = [words for words in lines if words[0] == "synced"]
    assert len(written) == 80 and len(pushes) == 16
    # Every clone but the first to push had to replay its entries onto another's.
    assert sum(int(words[2]) for words in pushes) >= 15

    bare = origin.bare()
    remote_head = git(bare, "rev-parse", LEDGER).strip()
    assert entries_at(bare, LEDGER) == written
    assert git(bare, "rev-list", "--count", LEDGER).strip() == "81"  # + the root commit
    # Never forced: receive.denyNonFastForwards was on, and the remote ref's log is
    # one chain of fast-forwards (the seed push, then one update per push).
    updates = [line.split()[:2] for line in (bare / "logs" / LEDGER).read_text().splitlines()]
    assert len(updates) == 1 + 16
    assert updates[0][0] == "0" * 40 and updates[-1][1] == remote_head
    for (_old, new), (old, newer) in itertools.pairwise(updates):
        assert old == new
        git(bare, "merge-base", "--is-ancestor", old, newer)
    git(bare, "fsck", "--strict")

    for root in clones:
        sync.pull(Workspace.discover(root))
        assert head(root) == remote_head
        assert verify(root) == (80, [])


@pytest.mark.slow
def test_push_or_pull_killed_midway_never_leaves_the_ledger_unverifiable(
    project: Project, origin: GitServer, tmp_path: Path
) -> None:
    rng = random.Random(20261123)
    victim, other = clone(origin, tmp_path / "victim"), clone(origin, tmp_path / "other")
    appended: set[str] = set()
    killed_mid_sync = 0
    for kill in range(12):
        # Someone else appended, so the victim's sync has to fetch and replay.
        appended |= set(append(other, "other", 2))
        sync.push(Workspace.discover(other))
        proc = _worker(victim, 0, 1, "victim")
        _go(proc)
        time.sleep(rng.uniform(0.05, 0.5))
        proc.kill()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        lines = proc.stdout.read().splitlines()
        appended |= {line.split()[1] for line in lines if line.startswith("entry ")}
        killed_mid_sync += bool(lines) and lines[-1].startswith("sync ")
        _entries, problems = verify(victim)
        assert problems == [], f"after kill {kill}"
    assert killed_mid_sync >= 6, f"only {killed_mid_sync} kills landed during a sync"
    print(f"{killed_mid_sync} of 12 kills landed during a sync")

    # The next push succeeds and nothing any process reported appending is lost.
    pushed = sync.push(Workspace.discover(victim))
    sync.pull(Workspace.discover(other))
    assert head(victim) == head(other) == pushed.head
    assert appended <= entries_at(origin.bare(), LEDGER)
    for root in (victim, other):
        assert verify(root)[1] == []
        git(root, "fsck", "--strict")


WRITER = Path(__file__).with_name("ledger_writer.py")


def test_pulls_while_a_local_writer_appends_lose_nothing(
    project: Project, origin: GitServer, tmp_path: Path
) -> None:
    local, remote = clone(origin, tmp_path / "local"), clone(origin, tmp_path / "remote")
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(local), "30", "local"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )  # fmt: skip
    theirs: set[str] = set()
    pulls = 0
    while writer.poll() is None:
        theirs |= set(append(remote, "remote", 1))
        sync.push(Workspace.discover(remote))
        sync.pull(Workspace.discover(local))
        pulls += 1
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    ours = {line for line in out.split() if line != "ready"}
    assert len(ours) == 30 and pulls >= 3

    sync.pull(Workspace.discover(local))
    assert entries_at(local, LEDGER) == ours | theirs
    assert verify(local) == (len(ours | theirs), [])


# Dies (as SIGKILL would: no cleanup runs) just before or just after the local
# ref moves to the merged head, the two instants the verified head must bridge.
CRASHER = """
import os, sys
from auditpipe.ledger import sync
from auditpipe.ledger.gitstore import GitStore
from auditpipe.workspace import Workspace

point, real_move = sys.argv[2], GitStore.move_ref

def move_ref(self, old, new):
    if point == "before":
        os._exit(9)
    moved = real_move(self, old, new)
    os._exit(9)

GitStore.move_ref = move_ref
sync.pull(Workspace.discover(sys.argv[1]))
"""


@pytest.mark.parametrize("point", ["before", "after"])
def test_a_pull_dying_around_the_ref_move_leaves_a_verifiable_ledger(
    point: str, project: Project, origin: GitServer, tmp_path: Path
) -> None:
    victim, other = clone(origin, tmp_path / "victim"), clone(origin, tmp_path / "other")
    ours = set(append(victim, "victim", 2))
    theirs = set(append(other, "other", 2))
    sync.push(Workspace.discover(other))
    shared = git(victim, "rev-parse", f"{LEDGER}~2").strip()
    before = head(victim)

    proc = subprocess.run(
        [sys.executable, "-c", CRASHER, str(victim), point], capture_output=True, text=True
    )
    assert proc.returncode == 9, proc.stderr
    moved = head(victim) != before
    assert moved == (point == "after")
    # The verified head was moved back to the history both sides share, so the
    # local ledger verifies whichever side of the ref move the process died on.
    state = Workspace.discover(victim).state_dir
    assert (state / "verified-head").read_text().strip() == shared
    assert verify(victim)[1] == []

    sync.pull(Workspace.discover(victim))
    assert entries_at(victim, LEDGER) == ours | theirs
    assert verify(victim) == (4, [])
