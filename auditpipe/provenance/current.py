"""The one definition of "the current run of a stage", shared by run, status, gate and verify.

The current run of a stage is the newest of its runs (any status) whose
recorded products all have, in the working tree now, the digests that run
recorded: the run whose data is what the stage feeds downstream. When no run's
products are in the tree (outputs not checked out, gitignored in CI), it is the
stage's newest run. So after a gate failed and the data was fixed (re-run or
restored from the cache), every command names the same run; while the failed
data is still in the tree, every command names the failed run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from auditpipe.errors import Error, UntrustedSigner
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import StageRun
from auditpipe.signing.interface import Verifier


@dataclass(frozen=True)
class CurrentRun:
    id: str
    run: StageRun
    in_tree: bool
    """True when its products are what the working tree holds (else: the newest run)."""


def current_digest(root: Path, name: str) -> str | None:
    """The digest of a file (sha256) or directory (Merkle) in the tree now."""
    path = root / name
    if path.is_dir():
        from auditpipe.fingerprint import fingerprint

        try:
            return fingerprint(name, root=root).sha256
        except Error:
            return None
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:  # unreadable: a fault naming the file, not a silent mismatch
        from auditpipe.faults import os_fault

        raise os_fault(exc, path) from exc


def runs_of(
    ledger: Ledger, stage: str, verifier: Verifier | None = None
) -> list[tuple[str, StageRun]]:
    """Every readable run of ``stage``, newest first; with a ``verifier``, runs by
    signers the trust set does not know are left out (they count neither for nor
    against anything)."""
    found = []
    for entry_id in ledger.ids_for_stage(stage):
        run: StageRun | None = None
        try:
            entry = ledger.get(entry_id)
            run = entry.signed.stage_run()
            if verifier is not None:
                verifier.verify(entry.bundle)
        except UntrustedSigner:
            continue
        except Error:
            if verifier is None or run is None:
                continue
        if run is not None and run.stage == stage:
            found.append((entry_id, run))
    found.sort(key=lambda pair: pair[1].finished_at, reverse=True)
    return found


def current_run(
    ledger: Ledger,
    stage: str,
    root: Path,
    digest_of: Callable[[str], str | None] | None = None,
    verifier: Verifier | None = None,
) -> CurrentRun | None:
    """The current run of ``stage`` (see the module docstring); ``None`` if it never ran.

    ``digest_of`` gives a path's digest now (default: fingerprint it under ``root``).
    """
    look = digest_of or (lambda name: current_digest(root, name))
    seen: dict[str, str | None] = {}

    def now(name: str) -> str | None:
        if name not in seen:
            seen[name] = look(name)
        return seen[name]

    runs = runs_of(ledger, stage, verifier)
    for entry_id, run in runs:
        if run.products and all(now(p.name) == p.digest.sha256 for p in run.products):
            return CurrentRun(entry_id, run, True)
    return CurrentRun(runs[0][0], runs[0][1], False) if runs else None


def failed_gates(run: StageRun) -> str:
    """The failed gates of a run, named so a reader cannot mistake a suite for a stage."""
    parts = [f"gate {v.suite!r} on {v.data}" for v in run.validations if not v.success]
    return ", ".join(parts) or "a gate"
