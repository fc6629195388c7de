"""The checks on one stored entry's bytes: parse, id, statement, one byte form,
kind, signature and trust — no git access, so every defect is a unit test on
bytes (``verify.py`` walks the history and calls this for each entry)."""

from __future__ import annotations

from dataclasses import dataclass

from auditpipe.errors import Error, UntrustedSigner
from auditpipe.ledger import format as entry_format
from auditpipe.ledger import layout
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.interface import SignerIdentity, Verifier


@dataclass(frozen=True)
class Untrusted:
    """An entry signed by someone the trust set does not know: evidence that never counts."""

    entry: str
    signer: str
    message: str


@dataclass(frozen=True)
class EntryVerdict:
    """What ``judge_entry`` found about one stored entry."""

    problems: list[str]
    signed: SignedStatement | None = None
    identity: SignerIdentity | None = None
    legacy: bool = False
    untrusted: Untrusted | None = None
    """Set when the signer is unknown to the trust set: valid history, no evidence."""


def judge_entry(entry_id: str, raw: bytes, verifier: Verifier) -> EntryVerdict:
    """Every per-entry check on the stored bytes of the entry named ``entry_id``.

    The bytes alone decide (no git access): parse, id, statement, one byte form,
    kind, signature and trust. Problems are collected, not raised.
    """
    try:
        bundle = parse_bundle(raw)
    except Error as exc:
        return EntryVerdict([f"malformed bundle: {exc.message}"])
    if bundle.id != entry_id:
        return EntryVerdict([f"payload hashes to {bundle.id}, not to the entry's id"])
    problems: list[str] = []
    legacy = False
    signed: SignedStatement | None = None
    try:
        signed = SignedStatement.parse(bundle.payload)
    except Error as exc:
        problems.append(f"invalid statement: {exc.message}")
    if signed is not None:
        try:
            legacy = entry_format.check_entry(raw, bundle, signed)
        except Error as exc:
            problems.append(f"not in its one byte form: {exc.message}")
        if signed.kind not in layout.AREAS[layout.ENTRIES].kinds:
            problems.append(f"entry kind {signed.kind!r} does not belong under entries/")
    untrusted: Untrusted | None = None
    try:
        identity: SignerIdentity | None = verifier.verify(bundle)
    except UntrustedSigner as exc:
        identity = None
        untrusted = Untrusted(entry_id, exc.signer, exc.message)
    except Error as exc:
        identity = None
        problems.append(exc.message)
    return EntryVerdict(problems, signed, identity, legacy, untrusted)
