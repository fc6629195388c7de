"""Sigstore bundle v0.3 JSON: the container every ledger entry is stored in.

Key-signed bundles: ``verificationMaterial.publicKey.hint`` is the keyid
(sha256 of the public key's DER), ``tlogEntries`` is empty, and ``dsseEnvelope``
carries the payload with one signature whose ``keyid`` is the one
securesystemslib computes for the key (so its DSSE verifier finds the key
unaided). This is sigstore's bundle format, parsed with ``sigstore_models``;
model_signing is not a verifier of ours (it hashes the PEM for its keyid and
expects its own predicate). Independent verifiers are ``cryptography`` + DSSE
PAE and securesystemslib (README, "Verify without auditpipe").

Stored bytes are the bundle's RFC 8785 form (``ledger/format.py`` checks it).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from pydantic import ValidationError
from sigstore_models.bundle.v1 import Bundle

from auditpipe.errors import ManifestError
from auditpipe.manifest.canonical import IN_TOTO_PAYLOAD_TYPE, canonical_bytes, entry_id

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"


@dataclass(frozen=True)
class EntryBundle:
    """A parsed bundle; ``raw`` is the stored bytes, untouched."""

    raw: bytes
    model: Bundle
    payload: bytes
    payload_type: str
    signatures: tuple[tuple[str | None, bytes], ...]

    @property
    def id(self) -> str:
        """The entry id: sha256 of the DSSE payload (the canonical statement)."""
        return entry_id(self.payload)

    @property
    def key_hint(self) -> str | None:
        material = self.model.verification_material
        return material.public_key.hint if material.public_key else None

    @property
    def is_keyless(self) -> bool:
        material = self.model.verification_material
        return material.certificate is not None or material.x509_certificate_chain is not None


def parse_bundle(raw: bytes) -> EntryBundle:
    """Parse sigstore bundle JSON that must carry a DSSE envelope."""
    try:
        model = Bundle.from_json(raw)
    except (ValidationError, ValueError) as exc:
        raise ManifestError(f"not a sigstore bundle: {_first_error(exc)}") from exc
    envelope = model.dsse_envelope
    if envelope is None:
        raise ManifestError("bundle has no dsseEnvelope (message signatures are not entries)")
    if len(envelope.signatures) != 1:
        raise ManifestError(
            f"bundle's DSSE envelope has {len(envelope.signatures)} signatures; "
            "a sigstore bundle v0.3 carries exactly one"
        )
    return EntryBundle(
        raw=raw,
        model=model,
        payload=bytes(envelope.payload),
        payload_type=envelope.payload_type,
        signatures=tuple((s.keyid, bytes(s.sig)) for s in envelope.signatures),
    )


def key_bundle(
    payload: bytes,
    signature: bytes,
    keyid: str,
    payload_type: str = IN_TOTO_PAYLOAD_TYPE,
    signature_keyid: str | None = None,
) -> bytes:
    """Emit bundle v0.3 JSON (its RFC 8785 form) for a DSSE signature by a local key.

    ``keyid`` is the hint (sha256 of the key's DER); ``signature_keyid`` the
    DSSE signature's keyid (default: the same, as bundles before format 1 had).
    """
    body = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": keyid}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(signature), "keyid": signature_keyid or keyid}],
        },
    }
    Bundle.from_dict(body)  # sigstore's own model accepts it
    return canonical_bytes(body)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "bundle"
        return f"{where}: {first['msg']}"
    return str(exc)
