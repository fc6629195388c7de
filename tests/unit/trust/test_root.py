"""The trust root's core on bytes: no repository, no files, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.errors import ConfigError, UntrustedSigner
from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.factory import verifier_for
from auditpipe.signing.keys import keyid_of, public_pem
from auditpipe.signing.local import LocalSigner
from auditpipe.trust import trust_root

ROOT = Path("/repo")
CI = (
    b"identities:\n  - identity: https://github.com/acme/m/.github/workflows/t.yml@refs/heads/main\n"
    b"    issuer: https://token.actions.githubusercontent.com\n"
)


def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_file(private: ec.EllipticCurvePrivateKey) -> tuple[str, bytes]:
    public = private.public_key()
    return f"policies/keys/{keyid_of(public)}.pem", public_pem(public)


def test_keys_identities_and_people_from_bytes() -> None:
    trusted = key()
    path, pem = key_file(trusted)
    files = {path: pem, "policies/identities.yaml": CI, "policies/people.yaml": b"people: []\n"}
    root = trust_root(files, root=ROOT, ref="origin/main", commit="a" * 40)
    assert set(root.keys) == {keyid_of(trusted.public_key())}
    assert [i.issuer for i in root.identities] == ["https://token.actions.githubusercontent.com"]
    assert root.people == b"people: []\n"
    assert root.sigstore_trust is None
    assert root.source == f"ref origin/main (commit {'a' * 12})"
    assert root.describe() == f"trust from ref origin/main (commit {'a' * 12})"


def test_a_key_outside_policies_keys_is_not_trusted() -> None:
    path, pem = key_file(key())
    root = trust_root({path.replace("keys/", "keys/sub/"): pem, "keys/x.pem": pem}, root=ROOT)
    assert root.keys == {}


def test_a_key_file_named_for_another_key_is_an_error_naming_the_ref() -> None:
    _path, pem = key_file(key())
    with pytest.raises(ConfigError) as raised:
        trust_root({"policies/keys/" + "0" * 64 + ".pem": pem}, root=ROOT, ref="HEAD", commit="c")
    assert raised.value.path == f"HEAD:policies/keys/{'0' * 64}.pem"
    assert "does not match its keyid" in raised.value.message


def test_bad_identities_name_the_ref_and_line() -> None:
    with pytest.raises(ConfigError) as raised:
        trust_root(
            {"policies/identities.yaml": b"identities: [\n"}, root=ROOT, ref="v1", commit="c"
        )
    assert raised.value.path == "v1:policies/identities.yaml"
    assert raised.value.line is not None


def test_policy_lookup_at_a_ref_and_in_the_working_tree() -> None:
    at_ref = trust_root({"policies/p.yaml": b"x"}, root=ROOT, ref="HEAD", commit="c" * 40)
    assert at_ref.policy_file(ROOT / "policies/p.yaml", "p.yaml") == ("HEAD:policies/p.yaml", b"x")
    with pytest.raises(ConfigError, match="not in trust ref HEAD"):
        at_ref.policy_file(ROOT / "policies/q.yaml", "q.yaml")
    with pytest.raises(ConfigError, match="outside the repository"):
        at_ref.policy_file(Path("/elsewhere/p.yaml"), "p.yaml")
    tree = trust_root({}, root=ROOT)
    with pytest.raises(ConfigError, match="policy file not found"):
        tree.policy_file(ROOT / "policies/q.yaml", "q.yaml")


def test_an_unknown_signer_is_untrusted_and_a_changed_hint_is_tampering() -> None:
    trusted, stranger = key(), key()
    path, pem = key_file(trusted)
    verifier = verifier_for(trust_root({path: pem}, root=ROOT))
    payload = b'{"_type":"https://in-toto.io/Statement/v1"}'
    bundle = parse_bundle(LocalSigner(stranger).sign(payload))
    with pytest.raises(UntrustedSigner) as raised:
        verifier.verify(bundle)
    assert raised.value.signer == f"key {keyid_of(stranger.public_key())}"
    honest = LocalSigner(trusted).sign(payload)
    hint = keyid_of(trusted.public_key())
    relabelled = parse_bundle(
        honest.replace(hint.encode(), keyid_of(stranger.public_key()).encode())
    )
    with pytest.raises(Exception) as altered:
        verifier.verify(relabelled)
    assert not isinstance(altered.value, UntrustedSigner)
    assert "the bundle was altered" in str(altered.value)
