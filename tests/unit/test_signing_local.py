"""Local ECDSA P-256 keys: key store, trusted keys, signer and verifier."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.errors import ConfigError, ManifestError, SigningKeyError, VerificationFailed
from auditpipe.manifest import IN_TOTO_PAYLOAD_TYPE, pae
from auditpipe.signing import (
    KeyStore,
    LocalSigner,
    LocalVerifier,
    TrustedKeys,
    keyid_of,
    parse_bundle,
)
from auditpipe.signing.keys import securesystemslib_keyid

PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1"}'


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys")


@pytest.fixture
def signer(store: KeyStore) -> LocalSigner:
    store.generate("default")
    return LocalSigner(store.private_key("default"), "default")


def test_generated_key_files(store: KeyStore) -> None:
    info = store.generate("default")
    assert stat.S_IMODE(info.private_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    public = serialization.load_pem_public_key(info.public_path.read_bytes())
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert info.keyid == hashlib.sha256(der).hexdigest()
    assert not info.encrypted
    assert [k.name for k in store.list()] == ["default"]


def test_encrypted_key_needs_its_passphrase(store: KeyStore) -> None:
    info = store.generate("locked", b"s3cret")
    assert info.encrypted
    assert store.list()[0].encrypted
    assert keyid_of(store.private_key("locked", b"s3cret").public_key()) == info.keyid
    with pytest.raises(SigningKeyError, match="no passphrase"):
        store.private_key("locked")
    with pytest.raises(SigningKeyError, match="wrong passphrase"):
        store.private_key("locked", b"guess")


@pytest.mark.parametrize("name", ["../escape", "", "a/b", ".hidden", "x" * 65])
def test_invalid_key_names_are_refused(store: KeyStore, name: str) -> None:
    with pytest.raises(SigningKeyError, match="invalid key name"):
        store.generate(name)
    assert not store.directory.exists() or not any(store.directory.iterdir())


def test_non_p256_private_key_is_refused(store: KeyStore) -> None:
    store.directory.mkdir(parents=True)
    other = ec.generate_private_key(ec.SECP384R1())
    (store.directory / "p384.key").write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(SigningKeyError, match="P-256"):
        store.private_key("p384")


def test_signer_output_is_a_key_bundle(signer: LocalSigner, store: KeyStore) -> None:
    bundle = parse_bundle(signer.sign(PAYLOAD))
    assert bundle.payload == PAYLOAD
    assert bundle.payload_type == IN_TOTO_PAYLOAD_TYPE
    assert bundle.key_hint == signer.identity.keyid
    assert not bundle.is_keyless
    assert bundle.id == hashlib.sha256(PAYLOAD).hexdigest()
    ((keyid, signature),) = bundle.signatures
    public = store.public_key("default")
    # the signature names the key by the keyid securesystemslib computes for it
    assert keyid == securesystemslib_keyid(public) != signer.identity.keyid
    # the signature covers PAE(payloadType, payload), per DSSE
    public.verify(signature, pae(IN_TOTO_PAYLOAD_TYPE, PAYLOAD), ec.ECDSA(hashes.SHA256()))
    hint = signer.identity.keyid
    assert hint is not None
    assert LocalVerifier({hint: public}).verify(bundle).keyid == hint


def test_verifier_checks_signature_trust_and_payload_type(
    signer: LocalSigner, store: KeyStore
) -> None:
    keyid = signer.identity.keyid
    assert keyid is not None
    verifier = LocalVerifier({keyid: store.public_key("default")})
    raw = json.loads(signer.sign(PAYLOAD))

    other = json.loads(json.dumps(raw))
    other["dsseEnvelope"]["payload"] = base64.b64encode(PAYLOAD + b" ").decode()
    with pytest.raises(VerificationFailed, match="invalid signature"):
        verifier.verify(parse_bundle(json.dumps(other).encode()))

    retyped = json.loads(json.dumps(raw))
    retyped["dsseEnvelope"]["payloadType"] = "application/json"
    with pytest.raises(VerificationFailed, match="payloadType"):
        verifier.verify(parse_bundle(json.dumps(retyped).encode()))

    with pytest.raises(VerificationFailed, match="not trusted"):
        LocalVerifier({}).verify(parse_bundle(json.dumps(raw).encode()))


def test_signer_honours_the_payload_type(signer: LocalSigner, store: KeyStore) -> None:
    bundle = parse_bundle(signer.sign(PAYLOAD, "application/vnd.example+json"))
    assert bundle.payload_type == "application/vnd.example+json"
    ((_keyid, signature),) = bundle.signatures
    store.public_key("default").verify(
        signature, pae(bundle.payload_type, bundle.payload), ec.ECDSA(hashes.SHA256())
    )


def test_trusted_keys_round_trip(tmp_path: Path, store: KeyStore) -> None:
    info = store.generate("ci")
    trusted = TrustedKeys(tmp_path / "policies" / "keys")
    assert trusted.load() == {}
    assert trusted.trust(info.public_path) == info.keyid
    assert (trusted.directory / f"{info.keyid}.pem").read_bytes() == info.public_path.read_bytes()
    assert list(trusted.load()) == [info.keyid]


def test_trusted_key_file_must_be_named_by_its_keyid(tmp_path: Path, store: KeyStore) -> None:
    info = store.generate("ci")
    trusted = TrustedKeys(tmp_path / "trusted")
    trusted.directory.mkdir()
    (trusted.directory / "friendly-name.pem").write_bytes(info.public_path.read_bytes())
    with pytest.raises(ConfigError, match="does not match its keyid"):
        trusted.load()


def test_trust_refuses_a_private_key(tmp_path: Path, store: KeyStore) -> None:
    info = store.generate("ci")
    with pytest.raises(ConfigError, match="not a PEM public key"):
        TrustedKeys(tmp_path / "trusted").trust(info.private_path)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}',
        b"[" * 50_000,
    ],
)
def test_parse_bundle_raises_manifest_error_on_garbage(raw: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_bundle(raw)
