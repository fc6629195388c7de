"""A lock's checkpoint as a ``Pin``: parsed, and its signature checked against trusted keys."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.anchor.check import Pin
from auditpipe.errors import ConfigError, ManifestError
from auditpipe.lock.model import LOCK_HINT, Lock
from auditpipe.transparency.checkpoint import parse_checkpoint
from auditpipe.transparency.note import parse_note, verify_note


def lock_pin(lock: Lock, source: str, keys: dict[str, ec.EllipticCurvePublicKey]) -> Pin | None:
    """The pin a lock holds (None without a checkpoint); exit 2 if it is malformed
    or its signature by a trusted key does not verify."""
    text = lock.note_text()
    if text is None:
        return None
    try:
        note = parse_note(text)
        checkpoint = parse_checkpoint(note.text)
    except ManifestError as exc:
        raise ConfigError(
            f"the lock's checkpoint is malformed: {exc.message}", path=source, hint=LOCK_HINT
        ) from None
    ids = {bytes.fromhex(k[:8]) for k in keys}
    claimed = [sig for sig in note.signatures if sig.key_id in ids]
    if not verify_note(note, checkpoint.origin, keys):
        if claimed or not note.signatures:
            raise ConfigError(
                "the lock's checkpoint signature does not verify with the trusted key it "
                "names (policies/keys/)",
                path=source,
                hint=LOCK_HINT,
            )
        # Signed by a key this verifier does not trust: still checked as a pin (a pin
        # can only add failures), but named as what it is.
        source = f"{source} (checkpoint signed by an untrusted key)"
    return Pin(source, checkpoint, tuple(lock.stages.values()))
