"""A no-op ``run`` (plain ``auditpipe run``, every stage up to date) without the
CLI framework: the same checks the full path makes before it would skip every
stage (secrets in commands and params, a writable ``.git``, the signing key),
the lock left as the full path would leave it, and the same summary."""

from __future__ import annotations

import os
from dataclasses import dataclass

from auditpipe.noop.probe import LOCK_FILE, Noop


@dataclass(frozen=True)
class Skipped:
    stage: str
    entry: str | None
    outcome: str = "skipped"
    duration: float = 0.0
    reasons: tuple[str, ...] = ("up to date",)


def fast_run(found: Noop) -> int | None:
    """Print the summary of a run that skips every stage and return 0, or None
    (nothing printed) when the full path must run."""
    spec = found.spec
    if not found.state.lock_current:
        return None  # the full path would write the lock's checkpoint
    if (spec.executor or "local") != "local" or (spec.signer or "local") != "local":
        return None  # a cluster to connect to, or a keyless signer to set up
    from auditpipe.export.openlineage.switch import configured

    if configured():
        return None  # lineage events to send
    if not _checks_pass(found):
        return None
    from auditpipe.cli.run_summary import summary

    summary([Skipped(row.stage, row.run) for row in found.rows])
    return 0


def _checks_pass(found: Noop) -> bool:
    """The full path's preflight, passed: secrets, a writable ledger lock, the
    signing key, and the lock's checkpoint signed by that key (kept as it is)."""
    import json

    from auditpipe.errors import Error
    from auditpipe.pipeline.preflight import check_secrets
    from auditpipe.signing.keys import load_signing_key
    from auditpipe.transparency.note import still_signed

    try:
        check_secrets(found.spec, [r.stage for r in found.rows], found.params, ())
        fd = os.open(found.git_dir / "auditpipe" / "ledger.lock", os.O_RDWR | os.O_CREAT, 0o644)
        os.close(fd)
        _name, key = load_signing_key()
        lock = json.loads((found.root / LOCK_FILE).read_bytes())
    except (Error, OSError, ValueError):
        return False
    lines = lock.get("checkpoint") if isinstance(lock, dict) else None
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        return False
    return still_signed(lines, None, key.public_key())
