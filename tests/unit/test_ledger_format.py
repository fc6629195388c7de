"""Property: a statement or bundle with a duplicate key, a non-canonical form or a
high-S signature never verifies, whatever it says and however it is signed.

The checks run on bytes (``verify.judge_entry``, the per-entry core of
``verify --ledger``), signed with a real key the verifier trusts; the honest
form of every generated entry verifies (the control).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditpipe.ledger.format import FORMAT_1_SINCE, name_defect
from auditpipe.ledger.verify import judge_entry
from auditpipe.manifest import build_statement, canonical_bytes, entry_id
from auditpipe.signing.der import P256_N, low_s, signature_defect
from auditpipe.signing.keys import keyid_of
from auditpipe.signing.local import LocalSigner, LocalVerifier
from tests.unit.test_manifest_canonical import SUBJECT, params_strategy, stage_run

KEY = ec.generate_private_key(ec.SECP256R1())
SIGNER = LocalSigner(KEY)
VERIFIER = LocalVerifier({keyid_of(KEY.public_key()): KEY.public_key()})
AFTER_FORMAT_1 = "2026-12-24T00:00:00.000000Z"
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def statement_bytes(params: dict[str, Any], finished_at: str = AFTER_FORMAT_1) -> bytes:
    return build_statement([SUBJECT], stage_run(params=params, finished_at=finished_at)).raw


def problems(raw_bundle: bytes, payload: bytes) -> list[str]:
    return judge_entry(entry_id(payload), raw_bundle, VERIFIER).problems


def resign(payload: bytes) -> bytes:
    """A bundle of exactly these payload bytes, validly signed (canonical bundle form)."""
    return SIGNER.sign(payload)


# Ways to serialize JSON other than RFC 8785.
non_canonical_dumps = st.sampled_from(
    [
        lambda v: json.dumps(v),
        lambda v: json.dumps(v, indent=2),
        lambda v: json.dumps(v, sort_keys=True),
        lambda v: json.dumps(v, separators=(",", ":"), sort_keys=True) + "\n",
        lambda v: json.dumps(dict(reversed(list(v.items()))), separators=(",", ":")),
        lambda v: " " + json.dumps(v, separators=(",", ":"), sort_keys=True),
    ]
)


@PROPERTY
@given(params=params_strategy)
def test_honest_entries_verify(params: dict[str, Any]) -> None:
    payload = statement_bytes(params)
    assert problems(resign(payload), payload) == []


def _insert_duplicate(raw: bytes, key: str, value: Any) -> bytes:
    """The same JSON object with ``key`` given a second time, first."""
    assert raw.startswith(b"{")
    return b"{" + json.dumps(key).encode() + b":" + json.dumps(value).encode() + b"," + raw[1:]


@PROPERTY
@given(
    params=params_strategy,
    key=st.sampled_from(["_type", "subject", "predicate", "predicateType"]),
    value=st.one_of(st.integers(0, 9), st.text(max_size=5), st.just([])),
)
def test_statements_with_duplicate_keys_never_verify(
    params: dict[str, Any], key: str, value: Any
) -> None:
    payload = _insert_duplicate(statement_bytes(params), key, value)
    found = problems(resign(payload), payload)
    assert any("duplicate JSON key" in p for p in found), found


@PROPERTY
@given(params=params_strategy, dumps=non_canonical_dumps)
def test_non_canonical_statements_never_verify(params: dict[str, Any], dumps: Any) -> None:
    canonical = statement_bytes(params)
    payload = dumps(json.loads(canonical)).encode()
    if payload == canonical:
        return
    found = problems(resign(payload), payload)
    assert any("RFC 8785" in p for p in found), found


@PROPERTY
@given(params=params_strategy, dumps=non_canonical_dumps, old=st.booleans())
def test_non_canonical_bundles_never_verify(params: dict[str, Any], dumps: Any, old: bool) -> None:
    payload = statement_bytes(params, "2026-11-01T00:00:00.000000Z" if old else AFTER_FORMAT_1)
    honest = resign(payload)
    raw = dumps(json.loads(honest)).encode()
    if raw == honest:
        return
    assert problems(raw, payload) != []


@PROPERTY
@given(
    params=params_strategy,
    key=st.sampled_from(["mediaType", "dsseEnvelope", "verificationMaterial"]),
)
def test_bundles_with_duplicate_keys_never_verify(params: dict[str, Any], key: str) -> None:
    payload = statement_bytes(params)
    honest = resign(payload)
    raw = _insert_duplicate(honest, key, json.loads(honest)[key])
    assert problems(raw, payload) != []


def _high_s(bundle: bytes) -> bytes:
    data = json.loads(bundle)
    signature = base64.b64decode(data["dsseEnvelope"]["signatures"][0]["sig"])
    r, s = decode_dss_signature(signature)
    data["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(
        encode_dss_signature(r, P256_N - s)
    ).decode()
    return canonical_bytes(data)


@PROPERTY
@given(params=params_strategy, old=st.booleans())
def test_high_s_signatures_never_verify(params: dict[str, Any], old: bool) -> None:
    """The high-S twin of a valid signature is still a valid ECDSA signature; the
    canonical form rejects it, whatever the entry's date."""
    payload = statement_bytes(params, "2026-11-01T00:00:00.000000Z" if old else AFTER_FORMAT_1)
    raw = _high_s(resign(payload))
    found = problems(raw, payload)
    assert any("high S" in p for p in found), found


def test_signers_normalize_to_low_s() -> None:
    for n in range(64):
        bundle = json.loads(SIGNER.sign(statement_bytes({"n": n})))
        signature = base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"])
        assert signature_defect(signature) is None
        assert low_s(signature) == signature


def test_format_1_began_after_the_unit_fixtures_date() -> None:
    # stage_run()'s default date predates format 1: legacy acceptance is date-bound.
    assert FORMAT_1_SINCE.year == 2026 and FORMAT_1_SINCE.isoformat() < AFTER_FORMAT_1


@given(st.text(max_size=30))
def test_name_rule_never_accepts_parent_or_absolute(name: str) -> None:
    if name_defect(name) is None and "://" not in name:
        assert not name.startswith("/")
        assert ".." not in name.split("/")
        assert "\\" not in name
