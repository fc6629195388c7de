"""The signing plug point: a ``Signer`` makes a bundle, a ``Verifier`` judges one.

Implementations: ``local.py`` (ECDSA P-256 keys on disk, the offline default)
and, later, ``sigstore.py`` (keyless, for CI). Both produce sigstore bundle v0.3
JSON whose ``dsseEnvelope`` carries the canonical statement bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from auditpipe.signing.bundle import EntryBundle


@dataclass(frozen=True)
class SignerIdentity:
    """Who signed: a local key (``kind="key"``) or a keyless identity."""

    kind: str
    keyid: str | None = None
    name: str | None = None
    identity: str | None = None
    issuer: str | None = None

    def describe(self) -> str:
        if self.kind == "key":
            label = f" ({self.name})" if self.name else ""
            return f"key {self.keyid}{label}"
        return f"{self.identity} via {self.issuer}"


class Signer(ABC):
    """Signs exact payload bytes as a DSSE envelope inside a sigstore bundle."""

    @property
    @abstractmethod
    def identity(self) -> SignerIdentity:
        """The identity signatures from this signer will carry."""

    @abstractmethod
    def sign(self, payload: bytes, payload_type: str) -> bytes:
        """Return sigstore bundle v0.3 JSON bytes signing ``payload``."""


class Verifier(ABC):
    """Checks a bundle's signature and that its signer is trusted."""

    @abstractmethod
    def verify(self, bundle: EntryBundle) -> SignerIdentity:
        """Return the trusted signer, or raise ``VerificationFailed``."""
