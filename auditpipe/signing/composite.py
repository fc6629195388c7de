"""One verifier for a ledger that mixes local-key and keyless entries.

A bundle names its kind: ``verificationMaterial.publicKey.hint`` (a local key)
or a signing certificate (sigstore keyless). Each goes to the verifier of its
kind, with that kind's own trust set; neither ever judges the other's bundles.
"""

from __future__ import annotations

from auditpipe.signing.bundle import EntryBundle
from auditpipe.signing.interface import SignerIdentity, Verifier


class CompositeVerifier(Verifier):
    """Key bundles -> ``keys`` (a ``LocalVerifier``); certificate bundles -> ``keyless``."""

    def __init__(self, keys: Verifier, keyless: Verifier) -> None:
        self.keys = keys
        self.keyless = keyless

    def verify(self, bundle: EntryBundle) -> SignerIdentity:
        return (self.keyless if bundle.is_keyless else self.keys).verify(bundle)
