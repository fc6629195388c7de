"""Local-key signing and verification: ECDSA P-256 / SHA-256 over DSSE PAE."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.errors import UntrustedSigner, VerificationFailed
from auditpipe.manifest.canonical import IN_TOTO_PAYLOAD_TYPE, pae
from auditpipe.signing.bundle import EntryBundle, key_bundle
from auditpipe.signing.der import low_s
from auditpipe.signing.interface import Signer, SignerIdentity, Verifier
from auditpipe.signing.keys import keyid_of, securesystemslib_keyid
from auditpipe.transparency.note import NoteSignature, sign_note

_ECDSA = ec.ECDSA(hashes.SHA256())


class LocalSigner(Signer):
    """Signs with a private key held in this process."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, name: str | None = None) -> None:
        self._key = key
        self._identity = SignerIdentity(kind="key", keyid=keyid_of(key.public_key()), name=name)
        self._signature_keyid = securesystemslib_keyid(key.public_key())

    @property
    def identity(self) -> SignerIdentity:
        return self._identity

    def sign(self, payload: bytes, payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
        signature = low_s(self._key.sign(pae(payload_type, payload), _ECDSA))
        assert self._identity.keyid is not None
        return key_bundle(
            payload, signature, self._identity.keyid, payload_type, self._signature_keyid
        )

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def note_signature(self, text: str, name: str) -> NoteSignature:
        """A C2SP signed-note signature line over ``text`` (ledger checkpoints)."""
        return sign_note(text, name, self._key)


class LocalVerifier(Verifier):
    """Accepts bundles signed by one of the project's trusted public keys."""

    def __init__(
        self, trusted: dict[str, ec.EllipticCurvePublicKey], where: str = "policies/keys/"
    ) -> None:
        self._trusted = trusted
        self._where = where  # names the trust set in "not trusted" messages
        self._sslib_keyids = {k: securesystemslib_keyid(v) for k, v in trusted.items()}

    def verify(self, bundle: EntryBundle) -> SignerIdentity:
        if bundle.payload_type != IN_TOTO_PAYLOAD_TYPE:
            raise VerificationFailed(
                f"payloadType is {bundle.payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE!r}"
            )
        if bundle.is_keyless:
            raise VerificationFailed(
                "keyless (certificate) signature, but no sigstore identity is trusted"
            )
        keyid = bundle.key_hint
        key = self._trusted.get(keyid or "")
        message = pae(bundle.payload_type, bundle.payload)
        if key is None:
            self._check_hint(bundle, keyid, message)
            raise UntrustedSigner(
                f"untrusted signer: key {keyid}, which is not trusted (not in {self._where})",
                signer=f"key {keyid}",
            )
        assert keyid is not None
        # The signature names the key by securesystemslib's keyid (format 1) or
        # by the hint (earlier entries); ledger/format.py pins which one.
        accepted = (keyid, self._sslib_keyids[keyid])
        for sig_keyid, signature in bundle.signatures:
            if sig_keyid not in accepted:
                raise VerificationFailed(f"signature keyid {sig_keyid!r} does not name key {keyid}")
            try:
                key.verify(signature, message, _ECDSA)
            except InvalidSignature:
                continue
            return SignerIdentity(kind="key", keyid=keyid)
        raise VerificationFailed(f"invalid signature for key {keyid}")

    def _check_hint(self, bundle: EntryBundle, keyid: str | None, message: bytes) -> None:
        """An unknown key hint over a signature a trusted key made is tampering.

        Without it, editing the (unsigned) hint of a trusted entry would turn
        honest evidence into an "untrusted" entry that is merely ignored.
        """
        for trusted_id, key in self._trusted.items():
            for _sig_keyid, signature in bundle.signatures[:4]:  # bounded: hostile input
                try:
                    key.verify(signature, message, _ECDSA)
                except InvalidSignature:
                    continue
                raise VerificationFailed(
                    f"the key hint says {keyid}, but the signature is by trusted key "
                    f"{trusted_id}: the bundle was altered"
                )
