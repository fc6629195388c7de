"""C2SP signed notes (https://c2sp.org/signed-note): parse, sign and verify.

A note is UTF-8 text ending in a newline, a blank line, then one signature line
per signer: ``— <key name> <base64(4-byte key ID || signature)>``.

auditpipe's keys are ECDSA P-256: the signature is the ASN.1 DER ECDSA-SHA256
signature over the note text (all of it, including its final newline, not the
blank line), and the key ID is the first four bytes of SHA-256 over the key's
DER SubjectPublicKeyInfo, as Rekor's checkpoints and sigstore's ECDSA note
verifiers use. That is also the first 8 hex digits of auditpipe's keyid.
Verifiers ignore signature lines from keys they do not know (the spec's rule).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.errors import ManifestError

SIG_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
_ECDSA = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIG_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class SignedNote:
    text: str
    """The signed text, ending in a newline."""
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()[:4]


def sign_note(text: str, name: str, key: ec.EllipticCurvePrivateKey) -> NoteSignature:
    """An ECDSA P-256 signature line over ``text`` under key name ``name``."""
    _check_name(name)
    signature = key.sign(text.encode("utf-8"), _ECDSA)
    return NoteSignature(name, key_id(key.public_key()), signature)


def verify_note(
    note: SignedNote, name: str, keys: dict[str, ec.EllipticCurvePublicKey]
) -> list[str]:
    """The keyids (of ``keys``: keyid hex -> public key) with a valid signature
    named ``name`` on the note; lines from other names or keys are ignored."""
    message = note.text.encode("utf-8")
    valid: list[str] = []
    for sig in note.signatures:
        if sig.name != name:
            continue
        for keyid, public in keys.items():
            if keyid in valid or bytes.fromhex(keyid[:8]) != sig.key_id:
                continue
            try:
                public.verify(sig.signature, message, _ECDSA)
            except InvalidSignature:
                continue
            valid.append(keyid)
    return valid


def parse_note(data: str) -> SignedNote:
    """Parse a signed note; raises ``ManifestError`` saying what is wrong."""
    if "\r" in data or any(ord(c) < 0x20 and c != "\n" for c in data):
        raise ManifestError("the signed note holds control characters")
    split = data.rfind("\n\n")
    if split < 0 or not data.endswith("\n"):
        raise ManifestError("the signed note has no signature block after a blank line")
    text, block = data[: split + 1], data[split + 2 :]
    lines = block[:-1].split("\n")
    if not lines or len(lines) > MAX_SIGNATURES:
        raise ManifestError(f"a signed note holds 1 to {MAX_SIGNATURES} signatures")
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(SIG_PREFIX):
            raise ManifestError(f"signature line {number} does not start with '— '")
        name, space, blob = line[len(SIG_PREFIX) :].rpartition(" ")
        if not space:
            raise ManifestError(f"signature line {number} has no signature")
        _check_name(name)
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            raise ManifestError(f"signature line {number} is not valid base64") from None
        if len(raw) < 5:
            raise ManifestError(f"signature line {number} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return SignedNote(text, tuple(signatures))


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ManifestError(f"{name!r} is not a signed-note key name (non-empty, no spaces or '+')")


def still_signed(
    lines: list[str] | None, body: str | None, public_key: ec.EllipticCurvePublicKey
) -> bool:
    """Whether a note kept as lines (the lock's ``checkpoint``) has text ``body``
    (None: whatever it holds) and a valid signature by ``public_key`` under its
    origin's name, so signing it again would say nothing new."""
    if not lines:
        return False
    try:
        note = parse_note("\n".join(lines) + "\n")
    except ManifestError:
        return False
    if body is not None and note.text != body:
        return False
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    origin = note.text.split("\n", 1)[0]
    try:
        return bool(verify_note(note, origin, {hashlib.sha256(der).hexdigest(): public_key}))
    except ManifestError:
        return False
