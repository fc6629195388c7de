"""Writing the lock: after appends (``run``, ``record``, ``record_stage``), after a
push (the checkpoint re-issued over the shared head), and ``auditpipe lock``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from auditpipe.anchor.check import anchor
from auditpipe.errors import Error, VerificationFailed
from auditpipe.ledger import layout
from auditpipe.ledger.ledger import Ledger
from auditpipe.lock.files import read_lock, write_lock
from auditpipe.lock.model import Lock, note_lines
from auditpipe.signing.interface import Signer
from auditpipe.transparency.note import SignedNote, still_signed


def checkpoint_lines(
    ledger: Ledger, signer: Signer | None, previous: list[str] | None = None
) -> list[str] | None:
    """The signed checkpoint over the ledger head, as lock lines (None: the signer
    cannot sign notes, e.g. keyless). ``previous`` lines are kept when they already
    say exactly that, signed by this signer: a no-op run leaves the lock as it was
    instead of re-signing it (ECDSA signatures differ each time)."""
    from auditpipe.signing.local import LocalSigner

    try:
        anchored = anchor(ledger.store, [])
    except VerificationFailed:
        # The entry is appended either way; the lock states the ledger as it is, and
        # every verification will report what is wrong with it.
        anchored = anchor(ledger.store, [], record=False, use_state=False)
    if anchored.checkpoint is None or not isinstance(signer, LocalSigner):
        return None
    body = anchored.checkpoint.body()
    if still_signed(previous, body, signer.public_key()):
        return previous
    note = SignedNote(body, (signer.note_signature(body, anchored.checkpoint.origin),))
    return note_lines(note.render())


def update_lock(
    ledger: Ledger, signer: Signer | None, stages: Mapping[str, str], *, replace: bool = False
) -> Path:
    """Record ``stages`` (stage -> entry id) and a fresh checkpoint in the lock."""
    try:
        old = read_lock(ledger.workspace)
    except Error:
        old = None  # a broken lock is replaced by a good one
    merged = dict(stages) if replace or old is None else {**old.stages, **stages}
    lock = Lock(
        stages=dict(sorted(merged.items())),
        checkpoint=checkpoint_lines(
            ledger, signer, old.checkpoint if old and old.stages == merged else None
        ),
        cosignatures=old.cosignatures if old else None,
    )
    return write_lock(ledger.workspace, lock)


def reissue_checkpoint(ledger: Ledger, signer: Signer | None) -> Path | None:
    """After a push: the lock's checkpoint over the pushed head (stages unchanged)."""
    old = read_lock(ledger.workspace)
    if old is None:
        return None
    lock = old.model_copy(update={"checkpoint": checkpoint_lines(ledger, signer)})
    return write_lock(ledger.workspace, lock)


def runs_in_tree(ledger: Ledger) -> dict[str, str]:
    """Per stage on the ledger, the newest successful or gate-failed run whose
    every output has, in the working tree now, the digest it recorded."""
    from auditpipe.provenance.current import current_digest

    root = ledger.workspace.root
    head = ledger.store.head()
    if head is None:
        return {}
    tree = ledger.store.commit(head).tree
    found: dict[str, tuple[str, str]] = {}
    digests: dict[str, str | None] = {}
    for bucket, _m, _s in ledger.store.children(tree, (layout.INDEX, b"stage")):
        for entry_id in ledger._ids_under((layout.INDEX, b"stage", bucket)):
            try:
                run = ledger.get(entry_id).signed.stage_run()
                subjects = ledger.get(entry_id).signed.statement.subject
            except Error:
                continue
            if run is None or run.status not in ("succeeded", "gate_failed") or not subjects:
                continue
            for s in subjects:
                if s.name not in digests:
                    digests[s.name] = current_digest(root, s.name)
            if all(digests[s.name] == s.sha256 for s in subjects):
                best = found.get(run.stage)
                if best is None or run.finished_at > best[0]:
                    found[run.stage] = (run.finished_at, entry_id)
    return {stage: entry_id for stage, (_t, entry_id) in sorted(found.items())}
