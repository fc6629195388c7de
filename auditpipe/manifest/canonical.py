"""Canonical JSON (RFC 8785), DSSE pre-authentication encoding, and entry ids.

These three rules are the whole contract between a signer and an independent
verifier: the statement is serialized once with RFC 8785, those bytes are the
DSSE payload, the signature covers ``PAE(payloadType, payload)``, and the
entry id is ``sha256(payload)``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from auditpipe.errors import ManifestError

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def canonical_bytes(value: Any) -> bytes:
    """Serialize a JSON-compatible value as RFC 8785 canonical JSON."""
    try:
        return bytes(rfc8785.dumps(value))
    except rfc8785.FloatDomainError as exc:
        raise ManifestError(
            f"cannot record a non-finite number (NaN or infinity): {exc}",
            hint="metrics and params must be finite numbers; replace NaN/inf before recording",
        ) from exc
    except rfc8785.IntegerDomainError as exc:
        raise ManifestError(
            f"integer outside the interoperable JSON range (±2^53): {exc}",
            hint="record very large integers as strings",
        ) from exc
    except RecursionError as exc:
        raise ManifestError("value is nested too deeply to canonicalize") from exc
    except rfc8785.CanonicalizationError as exc:
        raise ManifestError(f"value cannot be canonicalized as JSON: {exc}") from exc


def is_canonical(raw: bytes) -> bool:
    """True when ``raw`` is exactly the RFC 8785 form of the JSON it contains."""
    from auditpipe.manifest.statement import load_json

    try:
        return canonical_bytes(load_json(raw)) == raw
    except ManifestError:
        return False


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature actually covers."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def entry_id(payload: bytes) -> str:
    """An entry's id: the hex sha256 of its statement's canonical bytes."""
    return hashlib.sha256(payload).hexdigest()
