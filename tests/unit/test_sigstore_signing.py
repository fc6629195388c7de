"""SigstoreSigner / SigstoreVerifier as a library, against the in-process fake services.

Real sigstore-python signing and verification code runs end to end; only the
Fulcio / Rekor / OIDC service side is ``tests.sigstore_fake``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditpipe.errors import ConfigError, SigningError, UntrustedSigner, VerificationFailed
from auditpipe.manifest.canonical import canonical_bytes, entry_id
from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.identities import GITHUB_ISSUER, TrustedIdentity, load_identities
from auditpipe.signing.local import LocalSigner
from auditpipe.signing.sigstore import SigstoreSigner
from auditpipe.signing.sigstore_verify import SigstoreVerifier, tlog_summary
from tests.sigstore_fake import FakeSigstore

WORKFLOW = "https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main"
CI = TrustedIdentity(WORKFLOW, GITHUB_ISSUER, repository="acme/models", ref="refs/heads/main")
STATEMENT = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "models/model.pkl", "digest": {"sha256": "ab" * 32}}],
    "predicateType": "https://auditpipe.dev/stage-run/v1",
    "predicate": {"stage": "train", "metrics": {"accuracy": 0.9125, "note": "naïve ✓"}, "n": 7},
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeSigstore]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI"):
        monkeypatch.delenv(name, raising=False)
    with FakeSigstore() as service:
        yield service


@pytest.fixture
def trust(fake: FakeSigstore, tmp_path: Path) -> Path:
    return fake.write_trust_config(tmp_path / "sigstore-trust.json")


def sign(fake: FakeSigstore, trust: Path, payload: bytes) -> bytes:
    return SigstoreSigner(fake.github_token(), trust_config=trust).sign(payload)


def test_the_bundle_carries_our_exact_canonical_bytes(fake: FakeSigstore, trust: Path) -> None:
    payload = canonical_bytes(STATEMENT)
    raw = sign(fake, trust, payload)
    document = json.loads(raw)
    assert document["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert base64.b64decode(document["dsseEnvelope"]["payload"]) == payload
    bundle = parse_bundle(raw)
    assert bundle.payload == payload and bundle.id == entry_id(payload)
    assert bundle.is_keyless and len(document["verificationMaterial"]["tlogEntries"]) == 1

    who = SigstoreVerifier([CI], trust).verify(bundle)
    assert (who.kind, who.identity, who.issuer) == ("sigstore", WORKFLOW, GITHUB_ISSUER)
    assert who.describe() == f"{WORKFLOW} via {GITHUB_ISSUER}"


def test_a_statement_without_subjects_is_signed_byte_for_byte(
    fake: FakeSigstore, trust: Path
) -> None:
    """Failed runs have no subjects; sigstore's Statement model would refuse them."""
    payload = canonical_bytes({**STATEMENT, "subject": []})
    bundle = parse_bundle(sign(fake, trust, payload))
    assert bundle.payload == payload
    assert SigstoreVerifier([CI], trust).verify(bundle).identity == WORKFLOW


def test_signer_identity_is_the_certificate_san(fake: FakeSigstore, trust: Path) -> None:
    signer = SigstoreSigner(fake.email_token("alice@example.com"), trust_config=trust)
    assert signer.identity.identity == "alice@example.com"
    assert signer.identity.issuer == "https://oidc.example.com"
    bundle = parse_bundle(signer.sign(canonical_bytes(STATEMENT)))
    alice = TrustedIdentity("alice@example.com", "https://oidc.example.com")
    assert SigstoreVerifier([alice], trust).verify(bundle).identity == "alice@example.com"


@pytest.mark.parametrize(
    "trusted",
    [
        TrustedIdentity(WORKFLOW.replace("train.yml", "evil.yml"), GITHUB_ISSUER),
        TrustedIdentity(WORKFLOW, "https://accounts.google.com"),
        TrustedIdentity(WORKFLOW, GITHUB_ISSUER, repository="acme/other"),
        TrustedIdentity(WORKFLOW, GITHUB_ISSUER, ref="refs/heads/release"),
    ],
    ids=["identity", "issuer", "repository", "ref"],
)
def test_another_identity_is_not_trusted(
    fake: FakeSigstore, trust: Path, trusted: TrustedIdentity
) -> None:
    bundle = parse_bundle(sign(fake, trust, canonical_bytes(STATEMENT)))
    with pytest.raises(VerificationFailed) as info:
        SigstoreVerifier([trusted], trust).verify(bundle)
    assert f"signed by {WORKFLOW} via {GITHUB_ISSUER}, which is not a trusted identity" in (
        info.value.message
    )


def test_no_trusted_identity_trusts_no_keyless_bundle(fake: FakeSigstore, trust: Path) -> None:
    bundle = parse_bundle(sign(fake, trust, canonical_bytes(STATEMENT)))
    with pytest.raises(UntrustedSigner, match="no sigstore identity is trusted"):
        SigstoreVerifier([], trust).verify(bundle)


@pytest.mark.parametrize("trusted", [[], [TrustedIdentity(WORKFLOW, "https://gitlab.com")]])
def test_an_untrusted_bundle_whose_signature_fails_its_own_certificate_is_altered(
    fake: FakeSigstore, trust: Path, trusted: list[TrustedIdentity]
) -> None:
    """Untrusted is for unknown signers; a signature its own certificate rejects is tampering."""
    raw = sign(fake, trust, canonical_bytes(STATEMENT))
    document = json.loads(raw)
    other = sign(fake, trust, canonical_bytes({**STATEMENT, "predicate": {"stage": "x"}}))
    document["dsseEnvelope"]["signatures"] = json.loads(other)["dsseEnvelope"]["signatures"]
    with pytest.raises(VerificationFailed) as info:
        SigstoreVerifier(trusted, trust).verify(parse_bundle(json.dumps(document).encode()))
    assert not isinstance(info.value, UntrustedSigner)
    assert "does not verify under its own certificate" in info.value.message


def test_another_instance_root_does_not_verify(fake: FakeSigstore, trust: Path) -> None:
    """Same identity, but certificate and log entry come from an untrusted instance."""
    bundle = parse_bundle(sign(fake, trust, canonical_bytes(STATEMENT)))
    other = FakeSigstore()
    other_trust = other.write_trust_config(trust.with_name("other.json"))
    with pytest.raises(VerificationFailed, match="does not verify"):
        SigstoreVerifier([CI], other_trust).verify(bundle)


def test_public_instance_root_rejects_a_private_instance_bundle(
    fake: FakeSigstore, trust: Path
) -> None:
    """Without a project trust config the verifier uses sigstore's public root, offline."""
    bundle = parse_bundle(sign(fake, trust, canonical_bytes(STATEMENT)))
    with pytest.raises(VerificationFailed, match="does not verify"):
        SigstoreVerifier([CI]).verify(bundle)


def test_a_key_bundle_is_not_a_keyless_bundle(trust: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    raw = LocalSigner(ec.generate_private_key(ec.SECP256R1())).sign(canonical_bytes(STATEMENT))
    bundle = parse_bundle(raw)
    assert tlog_summary(bundle) is None
    with pytest.raises(VerificationFailed, match="no signing certificate"):
        SigstoreVerifier([CI], trust).verify(bundle)


def test_tlog_summary(fake: FakeSigstore, trust: Path) -> None:
    signer = SigstoreSigner(fake.github_token(), trust_config=trust)
    first = parse_bundle(signer.sign(canonical_bytes(STATEMENT)))
    second = parse_bundle(signer.sign(canonical_bytes({**STATEMENT, "subject": []})))
    summary = tlog_summary(second)
    assert summary is not None
    assert summary["logIndex"] == 1 and summary["treeSize"] == 2
    assert summary["logId"] == fake.rekor_log_id.hex()
    assert summary["kind"] == "dsse/0.0.1"
    assert "url" not in summary  # only entries in the public Rekor get a search link
    when = dt.datetime.fromisoformat(summary["integratedAt"].replace("Z", "+00:00"))
    assert abs(when.timestamp() - summary["integratedTime"]) < 1
    assert tlog_summary(first) is not None and tlog_summary(first)["logIndex"] == 0  # type: ignore[index]


def test_certificates_are_renewed_before_they_expire(trust: Path) -> None:
    """A long pipeline outlives a certificate: a new one is obtained, signing goes on."""
    with FakeSigstore(cert_lifetime=dt.timedelta(seconds=20)) as short:
        config = short.write_trust_config(trust.with_name("short.json"))
        signer = SigstoreSigner(short.github_token(), trust_config=config)
        bundles = [
            parse_bundle(signer.sign(canonical_bytes({**STATEMENT, "n": i}))) for i in (1, 2)
        ]
        assert short.certificates_issued == 3  # the first, then one per signature
        for bundle in bundles:
            assert SigstoreVerifier([CI], config).verify(bundle).identity == WORKFLOW


def test_expired_token_is_a_signing_error(fake: FakeSigstore, trust: Path) -> None:
    with pytest.raises(SigningError, match="expired") as info:
        SigstoreSigner(fake.github_token(lifetime=60, issued_ago=600), trust_config=trust)
    assert "--identity-token" in (info.value.hint or "")


def test_token_for_another_audience_is_refused(fake: FakeSigstore, trust: Path) -> None:
    token = fake.token(issuer=GITHUB_ISSUER, subject="repo:a/b", audience="not-sigstore")
    with pytest.raises(SigningError, match="cannot be used"):
        SigstoreSigner(token, trust_config=trust)


def test_unreachable_service_is_a_signing_error(fake: FakeSigstore, tmp_path: Path) -> None:
    down = FakeSigstore().start()
    config = down.write_trust_config(tmp_path / "down.json")
    down.stop()
    with pytest.raises(SigningError, match="cannot reach the sigstore service") as info:
        SigstoreSigner(fake.github_token(), trust_config=config)
    assert "network" in (info.value.hint or "")


def test_a_trusted_root_alone_cannot_sign(fake: FakeSigstore, tmp_path: Path) -> None:
    root_only = tmp_path / "root.json"
    root_only.write_text(json.dumps(fake.trusted_root()))
    with pytest.raises(ConfigError, match="signing config"):
        SigstoreSigner(fake.github_token(), trust_config=root_only)


def test_a_trusted_root_alone_can_verify(fake: FakeSigstore, trust: Path) -> None:
    bundle = parse_bundle(sign(fake, trust, canonical_bytes(STATEMENT)))
    root_only = trust.with_name("root.json")
    root_only.write_text(json.dumps(fake.trusted_root()))
    assert SigstoreVerifier([CI], root_only).verify(bundle).identity == WORKFLOW


def test_broken_trust_config_names_the_file(fake: FakeSigstore, trust: Path) -> None:
    bundle = parse_bundle(sign(fake, trust, canonical_bytes(STATEMENT)))
    trust.write_text('{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"')
    with pytest.raises(ConfigError) as info:
        SigstoreVerifier([CI], trust).verify(bundle)
    assert info.value.path == str(trust)


def test_identities_file(tmp_path: Path) -> None:
    path = tmp_path / "identities.yaml"
    assert load_identities(path) == ()
    path.write_text(
        f"identities:\n  - identity: {WORKFLOW}\n    issuer: {GITHUB_ISSUER}\n"
        "    repository: acme/models\n    ref: refs/heads/main\n"
    )
    assert load_identities(path) == (CI,)
    path.write_text(f"identities:\n  - identity: {WORKFLOW}\n")
    with pytest.raises(ConfigError, match="missing 'issuer'") as info:
        load_identities(path)
    assert info.value.path == str(path)
    path.write_text("identities:\n  - {identity: a, issuer: b, repo: c}\n")
    with pytest.raises(ConfigError, match="unknown key 'repo'"):
        load_identities(path)
