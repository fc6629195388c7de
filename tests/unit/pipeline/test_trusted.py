"""``RunTrust``: which runs the planner counts, each entry verified once per command."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from auditpipe.errors import UntrustedSigner, VerificationFailed
from auditpipe.ledger.entry import Entry
from auditpipe.pipeline.trusted import RunTrust
from auditpipe.signing import KeyStore, LocalSigner, LocalVerifier, parse_bundle
from auditpipe.signing.bundle import EntryBundle
from auditpipe.signing.interface import SignerIdentity, Verifier
from auditpipe.trust.root import trust_root

PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1","n":1}'


class Counting(Verifier):
    """The real local verifier, counting how often it is asked."""

    def __init__(self, inner: Verifier) -> None:
        self.inner, self.calls = inner, 0

    def verify(self, bundle: EntryBundle) -> SignerIdentity:
        self.calls += 1
        return self.inner.verify(bundle)


def signer(tmp_path: Path, name: str) -> LocalSigner:
    store = KeyStore(tmp_path / "keys")
    store.generate(name)
    return LocalSigner(store.private_key(name), name)


def entry(who: LocalSigner, payload: bytes = PAYLOAD) -> Entry:
    bundle = parse_bundle(who.sign(payload, "application/vnd.in-toto+json"))
    return Entry(bundle.id, bundle)


@pytest.fixture
def ours(tmp_path: Path) -> LocalSigner:
    return signer(tmp_path, "ours")


@pytest.fixture
def counting(ours: LocalSigner) -> Counting:
    keyid = ours.identity.keyid
    assert keyid is not None
    return Counting(LocalVerifier({keyid: ours.public_key()}))


def test_a_trusted_run_counts_and_is_verified_once(ours: LocalSigner, counting: Counting) -> None:
    trust = RunTrust(counting)
    run = entry(ours)
    assert trust.refusal(run) is None and trust.trusted(run)
    assert trust.verify(run.bundle).keyid == ours.identity.keyid
    assert counting.calls == 1


def test_an_untrusted_run_says_who_signed_it(
    tmp_path: Path, ours: LocalSigner, counting: Counting
) -> None:
    stranger = signer(tmp_path, "stranger")
    trust = RunTrust(counting)
    run = entry(stranger)
    why = trust.refusal(run)
    assert why == f"is signed by an untrusted signer (key {stranger.identity.keyid})"
    with pytest.raises(UntrustedSigner):  # the cached verdict is the same error
        trust.verify(run.bundle)
    assert counting.calls == 1


def test_other_bytes_under_the_same_id_are_judged_anew(
    ours: LocalSigner, counting: Counting
) -> None:
    """The cache is per entry id, but a bundle whose bytes differ (an altered
    signature) is verified again, never answered from the honest one's verdict."""
    trust = RunTrust(counting)
    honest = entry(ours)
    assert trust.trusted(honest)
    doc = json.loads(honest.bundle.raw)
    sig = base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"])
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bad).decode()
    forged = parse_bundle(json.dumps(doc).encode())
    assert forged.id == honest.id
    why = trust.refusal(Entry(forged.id, forged))
    assert why is not None and why.startswith("does not verify")
    with pytest.raises(VerificationFailed):
        trust.verify(forged)
    assert counting.calls == 2


def test_an_empty_trust_set_names_the_way_out(tmp_path: Path) -> None:
    empty = RunTrust.of(trust_root({}, root=tmp_path))
    assert empty.empty and "auditpipe keys trust" in (empty.way_out() or "")
    assert not empty.trusted(entry(signer(tmp_path, "anyone")))
    keyed = RunTrust.of(trust_root({}, root=tmp_path, ref="main", commit="0" * 40))
    assert "main:policies/keys/" in (keyed.way_out() or "")
