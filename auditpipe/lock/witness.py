"""Witness cosignatures over ledger checkpoints (``auditpipe checkpoint --cosign``).

C2SP tlog-cosignature is defined for Ed25519 keys only; auditpipe's keys are
ECDSA P-256, so a cosignature is a DSSE signature (PAE, as for entries) over the
checkpoint's note text with payload type ``COSIGNATURE_TYPE``. Cosignatures
live in ``auditpipe.lock`` under ``cosignatures`` (each with the checkpoint it
covers, so they survive the lock's checkpoint being re-issued), committed where
every verifier finds them. A policy's ``witnessed`` rule counts the witnesses
whose cosigned checkpoint is consistent with the ledger and covers every entry
of the artifact's lineage.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.anchor.pinned import verify_pinned
from auditpipe.anchor.state import read_state
from auditpipe.errors import ManifestError
from auditpipe.ledger.ledger import Ledger
from auditpipe.lock.model import Cosignature, Lock
from auditpipe.manifest.canonical import pae
from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.local import LocalSigner
from auditpipe.transparency.checkpoint import parse_checkpoint
from auditpipe.transparency.merkle import Tree, verify_consistency

COSIGNATURE_TYPE = "application/vnd.auditpipe.checkpoint-cosignature+text"


@dataclass(frozen=True)
class Witnesses:
    """Per witness keyid, the largest cosigned checkpoint consistent with the
    ledger; and each entry's position in the ledger."""

    sizes: dict[str, int]
    positions: dict[str, int]


def cosign(ledger: Ledger, signer: LocalSigner) -> Cosignature:
    """A cosignature over the checkpoint of the ledger head, after verifying it."""
    anchored = verify_pinned(ledger, verifier=None)
    if anchored.checkpoint is None:
        raise ManifestError("there is no ledger to cosign", hint="run `auditpipe init`")
    body = anchored.checkpoint.body()
    bundle = parse_bundle(signer.sign(body.encode(), COSIGNATURE_TYPE))
    (_keyid, signature) = bundle.signatures[0]
    assert signer.identity.keyid is not None
    return Cosignature(
        keyid=signer.identity.keyid,
        checkpoint=body[:-1].split("\n"),
        signature=base64.b64encode(signature).decode(),
    )


def witnesses(
    ledger: Ledger, lock: Lock | None, keys: dict[str, ec.EllipticCurvePublicKey]
) -> Witnesses:
    """What the lock's cosignatures by ``keys`` vouch for (call after ``verify_pinned``)."""
    loaded = read_state(ledger.workspace.state_dir)
    leaves = loaded[1] if loaded else []
    positions = {leaf.hex(): n for n, leaf in enumerate(leaves)}
    sizes: dict[str, int] = {}
    if lock is None or not loaded:
        return Witnesses(sizes, positions)
    state = loaded[0]
    tree = Tree(leaves)
    root = bytes.fromhex(state.root)
    for cosig in lock.cosignatures or []:
        key = keys.get(cosig.keyid)
        body = "\n".join(cosig.checkpoint) + "\n"
        if key is None or not _valid(key, body, cosig.signature):
            continue
        try:
            cp = parse_checkpoint(body)
        except ManifestError:
            continue
        if cp.origin != state.origin or cp.size > len(leaves):
            continue
        proof = tree.consistency_proof(cp.size)
        if verify_consistency(cp.size, len(leaves), cp.root, root, proof):
            sizes[cosig.keyid] = max(sizes.get(cosig.keyid, 0), cp.size)
    return Witnesses(sizes, positions)


def _valid(key: ec.EllipticCurvePublicKey, body: str, signature: str) -> bool:
    try:
        key.verify(
            base64.b64decode(signature), pae(COSIGNATURE_TYPE, body.encode()),
            ec.ECDSA(hashes.SHA256()),
        )  # fmt: skip
    except (InvalidSignature, ValueError):
        return False
    return True
