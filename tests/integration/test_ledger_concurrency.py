"""Concurrent writers and writers killed mid-append: the ledger never loses or
corrupts an entry, and always accepts the next append."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditpipe.ledger.ledger import Ledger
from auditpipe.ledger.verify import verify_ledger
from auditpipe.pipeline.recorder import RunFacts, build, sign_and_append
from auditpipe.signing.factory import local_signer, verifier_for
from auditpipe.trust.read import open_trust
from auditpipe.workspace import Workspace
from tests.conftest import Project

WRITER = Path(__file__).with_name("ledger_writer.py")


def _writer(root: Path, count: int, tag: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(root), str(count), tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _verify(root: Path) -> list[str]:
    workspace = Workspace.discover(root)
    with Ledger(workspace) as ledger:
        report = verify_ledger(ledger.store, verifier_for(open_trust(workspace, None)))
    return [p.describe() for p in report.problems]


@pytest.mark.slow
def test_eight_processes_appending_25_each_lose_nothing(project: Project) -> None:
    writers = [_writer(project.root, 25, f"w{i}") for i in range(8)]
    outputs = [w.communicate(timeout=300) for w in writers]
    for w, (_out, err) in zip(writers, outputs, strict=True):
        assert w.returncode == 0, err
    written = {line for out, _ in outputs for line in out.split() if line != "ready"}
    assert len(written) == 200

    with Ledger(Workspace.discover(project.root)) as ledger:
        on_ledger = {e.id for e in ledger.entries()}
    assert on_ledger == written
    assert _verify(project.root) == []
    # Plain git agrees: 200 entry commits plus the root commit `init` made.
    assert project.git("rev-list", "--count", "auditpipe/ledger").strip() == "201"
    project.git("fsck", "--strict")


@pytest.mark.slow
def test_writer_killed_at_random_moments_never_breaks_the_ledger(project: Project) -> None:
    rng = random.Random(20261122)
    workspace = Workspace.discover(project.root)
    signer = local_signer()
    kills = 0
    appended_by_killed_writers = 0
    while kills < 24:
        proc = _writer(project.root, 0, "crash")
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        appended_by_killed_writers += len(proc.stdout.read().split())
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        assert _verify(project.root) == [], f"after kill {kills}"
        # ... and the next append succeeds.
        with Ledger(workspace) as ledger:
            entry_id = sign_and_append(
                ledger, signer, build(ledger, RunFacts(stage="after-crash", params={"k": kills}))
            )
            assert ledger.get(entry_id).id == entry_id
    # The kills landed while the writer was busy appending, not only before it began.
    assert appended_by_killed_writers > 24
    assert _verify(project.root) == []
    project.git("fsck", "--strict")
