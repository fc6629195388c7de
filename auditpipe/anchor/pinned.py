"""``verify_pinned``: anchor the ledger against the working tree's lock, the
trust ref's lock (when trust comes from a revision) and this clone's state."""

from __future__ import annotations

from collections.abc import Sequence

from auditpipe.anchor.check import Anchored, Pin, anchor
from auditpipe.anchor.state import clear_state
from auditpipe.ledger.ledger import Ledger
from auditpipe.lock.files import LOCK_FILE, lock_at_revision, read_lock
from auditpipe.lock.model import parse_lock
from auditpipe.lock.pins import lock_pin
from auditpipe.signing.interface import Verifier
from auditpipe.signing.keys import TRUSTED_KEYS_DIR, TrustedKeys
from auditpipe.trust.root import TrustRoot
from auditpipe.workspace import Workspace


def working_tree_pins(workspace: Workspace) -> list[Pin]:
    lock = read_lock(workspace)
    if lock is None:
        return []
    pin = lock_pin(lock, LOCK_FILE, TrustedKeys(workspace.root / TRUSTED_KEYS_DIR).load())
    return [pin] if pin else []


def trust_pins(workspace: Workspace, trust: TrustRoot) -> list[Pin]:
    """The checkpoint in the trust ref's ``auditpipe.lock``, read from git objects
    and checked with the trust ref's keys: a pin the change under review cannot
    edit (none when trust comes from the working tree, whose lock is pinned anyway)."""
    if trust.ref is None:
        return []
    data = lock_at_revision(workspace, trust.ref)
    if data is None:
        return []
    where = f"{trust.ref}:{LOCK_FILE}"
    pin = lock_pin(parse_lock(data, where), where, dict(trust.keys))
    return [pin] if pin else []


def known_pins(workspace: Workspace, trust: TrustRoot | None) -> list[Pin]:
    """Every checkpoint a command knows besides this clone's own state: the
    working tree's lock and, with a trust ref, that revision's lock."""
    return [*working_tree_pins(workspace), *(trust_pins(workspace, trust) if trust else [])]


def verify_pinned(
    ledger: Ledger, trust: TrustRoot | None = None, verifier: Verifier | None = None
) -> Anchored:
    """Raise ``VerificationFailed`` unless the ledger extends every known checkpoint
    (:func:`known_pins`) and its index is the one its entries imply (and, with a
    ``verifier``, the entries appended since this clone's last check are validly
    signed)."""
    return anchor(ledger.store, known_pins(ledger.workspace, trust), verifier=verifier)


def reanchor_after_sync(ledger: Ledger, pins: Sequence[Pin] = ()) -> Anchored:
    """After a sync replayed local entries onto the remote's (which reorders
    them, and which the sync itself verified lost nothing), start this clone's
    anchor afresh from the new head, checked against ``pins``."""
    clear_state(ledger.workspace.state_dir)
    return anchor(ledger.store, pins)
