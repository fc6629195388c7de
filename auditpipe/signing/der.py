"""ECDSA P-256 signatures in their one DER form: minimal encoding, low S.

ECDSA signatures are malleable: ``(r, s)`` and ``(r, n - s)`` both verify. The
ledger keeps one byte form per entry, so signers normalize to the low half
(``s <= n/2``, as Bitcoin and Ethereum do) and the format check rejects the
other, as well as any DER that does not re-encode to the same bytes.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

# Order of the P-256 group.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_N = P256_N // 2


def low_s(signature: bytes) -> bytes:
    """The same signature with ``s`` in the low half, DER encoded."""
    r, s = decode_dss_signature(signature)
    if s > _HALF_N:
        s = P256_N - s
    return encode_dss_signature(r, s)


def signature_defect(signature: bytes) -> str | None:
    """Why ``signature`` is not a canonical low-S DER P-256 signature, or None."""
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        return "signature is not DER-encoded ECDSA"
    if encode_dss_signature(r, s) != signature:
        return "signature DER is not in its minimal encoding"
    if not (0 < r < P256_N and 0 < s < P256_N):
        return "signature values are out of range for P-256"
    if s > _HALF_N:
        return "signature has a high S value (only the low-S form is accepted)"
    return None
