"""The full path's side of the no-op state: after ``status`` or ``run`` assessed
the stages, keep the verdicts of the up-to-date ones whose run this clone has
verified (signature by a signer the working tree's trust set holds, the lock
naming it), for the ledger head they were found at."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from auditpipe.errors import Error
from auditpipe.noop.state import (
    NoopState,
    Verdict,
    file_digest,
    read_state,
    trust_digest,
    write_state,
)

if TYPE_CHECKING:
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.pipeline.planner import Assessment
    from auditpipe.signing.interface import Verifier

LOCK_FILE = "auditpipe.lock"


def record_verified(
    ledger: Ledger,
    assessed: Iterable[Assessment],
    *,
    lock_written: bool = False,
    verifier: Verifier | None = None,
) -> None:
    """Write the verified state for the up-to-date stages among ``assessed``; a
    failure here only means the next no-op takes the full path again.
    ``lock_written``: the caller just wrote the lock's checkpoint over the head.
    ``verifier``: the working tree's trust set, when the caller already has it."""
    if os.environ.get("AUDITPIPE_TRUST_REF"):
        return  # trust from a ref that can move under an unchanged working tree
    try:
        _record(ledger, list(assessed), lock_written, verifier)
    except (Error, OSError):
        return


def _record(
    ledger: Ledger, assessed: list[Assessment], lock_written: bool, verifier: Verifier | None
) -> None:
    from auditpipe.lock.files import stages_in

    workspace = ledger.workspace
    head = ledger.head()
    if head is None:
        return
    lock_path = workspace.root / LOCK_FILE
    lock = file_digest(lock_path)
    named = stages_in(lock_path.read_bytes(), LOCK_FILE) if lock is not None else {}
    trust = trust_digest(workspace.root)
    candidates = [
        a for a in assessed if a.up_to_date and a.key and a.run and named.get(a.stage) == a.run
    ]
    verified = _verified(ledger, [a.run for a in candidates if a.run], verifier)
    stages: dict[str, Verdict] = {}
    current = lock_written and lock is not None
    previous = read_state(workspace.git_dir)
    if previous is not None and (previous.head, previous.lock, previous.trust) == (
        head,
        lock,
        trust,
    ):
        stages.update(previous.stages)
        current = current or previous.lock_current
    for a in assessed:
        stages.pop(a.stage, None)
    for a in candidates:
        if a.run in verified and a.key:
            outputs = {path: fp.sha256 for path, fp in a.outputs.items()}
            stages[a.stage] = Verdict(a.key, a.run, outputs)
    write_state(workspace.git_dir, NoopState(head, lock, trust, stages, current))


def _verified(ledger: Ledger, ids: list[str], verifier: Verifier | None) -> set[str]:
    """The ids whose entry verifies under the working tree's trust set."""
    if not ids:
        return set()
    if verifier is None:
        from auditpipe.signing.factory import verifier_for
        from auditpipe.trust.read import choose_ref, open_trust

        verifier = verifier_for(open_trust(ledger.workspace, choose_ref(None, None), ()))
    good = set()
    for entry_id in ids:
        try:
            verifier.verify(ledger.get(entry_id).bundle)
        except Error:
            continue
        good.add(entry_id)
    return good
