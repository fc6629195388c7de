"""The one byte form of a ledger entry: what ``append`` writes and ``verify`` demands.

Format 1 (entries from auditpipe 0.2): a stored bundle is exactly the RFC 8785
JSON of itself, with

- exactly the fields of a sigstore bundle v0.3 carrying a DSSE envelope (no
  unknown field in the bundle, its verification material or the envelope),
  exactly one signature, no duplicate key anywhere;
- standard padded base64 for the payload and the signature;
- for key bundles: ``publicKey`` holding only the ``hint``, no tlog entries, a
  DER signature in its minimal encoding with a low S, and the signature's
  keyid the one securesystemslib computes (the verifier checks it names the key);
- a payload that is exactly the RFC 8785 form of its statement;
- subject, material and product names that are repo-relative and normalized
  (no leading ``/``, no ``..``, no ``./``, no ``\\``), or URLs of an object store.

Legacy entries (written before format 1, by auditpipe 0.1) were serialized by
``sigstore_models`` (another key order) and signed without normalizing S. They
verify when their bytes are exactly that older serializer's output, their
signature keyid is the hint, and the statement they sign is dated before
``FORMAT_1_SINCE`` — the date is inside the signed statement, so a format-1
entry cannot be re-dressed in the legacy form without the key. They are
counted and listed as legacy, never silently accepted.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
from datetime import UTC, datetime
from typing import Any

from auditpipe.errors import ManifestError
from auditpipe.manifest.statement import SignedStatement, load_canonical
from auditpipe.signing.bundle import BUNDLE_MEDIA_TYPE, EntryBundle
from auditpipe.signing.der import signature_defect

# Entries dated before this may be in the legacy form (see module docstring).
FORMAT_1_SINCE = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)

# Object-store and web URLs a subject or material may be named by.
URL_SCHEMES = frozenset({"s3", "gs", "gcs", "abfs", "abfss", "az", "hdfs", "http", "https"})
_URL = re.compile(r"^([a-z][a-z0-9+.-]*)://([^/\\]+)(/[^\\]*)?$")

_BUNDLE_FIELDS = frozenset({"mediaType", "verificationMaterial", "dsseEnvelope"})
_MATERIAL_FIELDS = frozenset(
    {
        "publicKey",
        "certificate",
        "x509CertificateChain",
        "tlogEntries",
        "timestampVerificationData",
    }
)
_ENVELOPE_FIELDS = frozenset({"payload", "payloadType", "signatures"})
_SIGNATURE_FIELDS = frozenset({"sig", "keyid"})


class FormatDefect(ManifestError):
    """A stored entry is not in its one byte form."""


def check_entry(raw: bytes, bundle: EntryBundle, signed: SignedStatement) -> bool:
    """Check an entry's bytes; True when it is a (dated, accepted) legacy entry.

    ``signed`` must come from ``SignedStatement.parse`` with its default
    ``require_canonical=True`` (which checks the payload's RFC 8785 form and
    duplicate keys). Raises ``FormatDefect`` naming the first defect found.
    """
    if _is_format_1_key_bundle(raw, bundle):
        _check_signature(bundle, legacy=False)
        check_names(signed)
        return False
    try:
        data, canonical = load_canonical(raw)
    except ManifestError as exc:
        raise FormatDefect(f"bundle: {exc.message}") from exc
    legacy = not canonical
    if not legacy:
        _check_fields(data, bundle, legacy=False)
    else:
        try:
            _check_legacy(raw, data, bundle, signed)
        except FormatDefect as exc:
            raise FormatDefect(
                f"bundle bytes are not its canonical RFC 8785 form, nor a legacy entry ({exc})"
            ) from None
    check_names(signed)
    return legacy


def _is_format_1_key_bundle(raw: bytes, bundle: EntryBundle) -> bool:
    """The fast path: ``raw`` is byte for byte the format-1 key bundle of its own
    parsed contents (so: RFC 8785, known fields only, one signature, standard
    base64), rebuilt without parsing the JSON a second time."""
    hint = bundle.key_hint
    (sig_keyid, sig), *more = bundle.signatures
    if hint is None or bundle.is_keyless or sig_keyid is None or more:
        return False
    body = {
        "dsseEnvelope": {
            "payload": base64.b64encode(bundle.payload).decode("ascii"),
            "payloadType": bundle.payload_type,
            "signatures": [{"keyid": sig_keyid, "sig": base64.b64encode(sig).decode("ascii")}],
        },
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
    }
    # No floats and (checked) ASCII only: json.dumps with sorted keys is RFC 8785.
    rebuilt = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return rebuilt.isascii() and rebuilt.encode("ascii") == raw


def _check_signature(parsed: EntryBundle, legacy: bool) -> None:
    """A key bundle's signature: keyid form, DER and low S (high S allowed if legacy)."""
    keyid, sig = parsed.signatures[0]
    if legacy:
        if keyid != parsed.key_hint:
            raise FormatDefect("the signature keyid is not the key hint")
        defect = signature_defect(sig)
        if defect is not None and "high S" not in defect:
            raise FormatDefect(defect)
        return
    if keyid == parsed.key_hint:
        raise FormatDefect("the signature keyid is the hint, not the securesystemslib keyid")
    defect = signature_defect(sig)
    if defect is not None:
        raise FormatDefect(defect)


def _check_legacy(raw: bytes, data: Any, bundle: EntryBundle, signed: SignedStatement) -> None:
    if bundle.model.to_json().encode("utf-8") != raw:
        raise FormatDefect("not the bytes auditpipe 0.1 wrote either")
    when = signed_time(signed)
    if when is None or when >= FORMAT_1_SINCE:
        raise FormatDefect(
            "the legacy form is accepted only for entries dated before "
            f"{FORMAT_1_SINCE:%Y-%m-%d %H:%M} UTC"
        )
    _check_fields(data, bundle, legacy=True)


def check_new(raw: bytes, bundle: EntryBundle, signed: SignedStatement) -> None:
    """What ``append`` demands of a new entry: format 1, never the legacy form."""
    if check_entry(raw, bundle, signed):
        raise FormatDefect("bundle bytes are not its canonical RFC 8785 form")


def _only(value: Any, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatDefect(f"{where} is not a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise FormatDefect(f"unknown field {unknown[0]!r} in {where}")
    return value


def _check_fields(data: Any, parsed: EntryBundle, legacy: bool) -> None:
    bundle = _only(data, _BUNDLE_FIELDS, "the bundle")
    if bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise FormatDefect(f"mediaType is not {BUNDLE_MEDIA_TYPE}")
    material = _only(bundle.get("verificationMaterial"), _MATERIAL_FIELDS, "verificationMaterial")
    envelope = _only(bundle.get("dsseEnvelope"), _ENVELOPE_FIELDS, "dsseEnvelope")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise FormatDefect("the DSSE envelope must carry exactly one signature")
    signature = _only(signatures[0], _SIGNATURE_FIELDS, "the DSSE signature")
    # The parsed bundle holds the decoded bytes: their standard padded base64
    # must be the stored text exactly (no URL-safe alphabet, no missing padding).
    _standard_base64(envelope.get("payload"), parsed.payload, "payload")
    _standard_base64(signature.get("sig"), parsed.signatures[0][1], "signature")
    key = material.get("publicKey")
    if key is None:
        return  # keyless: the certificate and Rekor entry bind the signature bytes
    _only(key, frozenset({"hint"}), "publicKey")
    if set(material) != {"publicKey", "tlogEntries"} or material["tlogEntries"] != []:
        raise FormatDefect("a key bundle carries only publicKey and empty tlogEntries")
    _check_signature(parsed, legacy)


def _standard_base64(value: Any, decoded: bytes, what: str) -> None:
    if not isinstance(value, str) or base64.b64encode(decoded).decode("ascii") != value:
        raise FormatDefect(f"{what} is not standard padded base64")


def signed_time(signed: SignedStatement) -> datetime | None:
    """When the statement says it was made (run finished, promotion, checkpoint)."""
    predicate = signed.statement.predicate
    for key in ("finishedAt", "promotedAt", "createdAt"):
        value = predicate.get(key)
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                return None
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def check_names(signed: SignedStatement) -> None:
    """Subject, material and product names: repo-relative and normalized, or URLs."""
    for subject in signed.statement.subject:
        _check_name(subject.name, "subject")
    predicate = signed.statement.predicate
    for field in ("materials", "products"):
        items = predicate.get(field)
        for item in items if isinstance(items, list) else []:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                _check_name(name, field[:-1])
    artifact = predicate.get("artifact")
    if isinstance(artifact, str):
        _check_name(artifact, "artifact")


def name_defect(name: str) -> str | None:
    """Why ``name`` may not name an artifact in a statement, or None."""
    url = _URL.match(name)
    if url is not None:
        if url.group(1) not in URL_SCHEMES:
            return f"URL scheme {url.group(1)!r} is not an object store's"
        segments = (url.group(3) or "").split("/")
        if ".." in segments or "." in segments:
            return "URL path contains '.' or '..'"
        return None
    if "\\" in name or "\0" in name:
        return "contains a backslash or NUL"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is absolute"
    if ".." in name.split("/"):
        return "contains '..'"
    if posixpath.normpath(name) != name or name == ".":
        return "is not a normalized path"
    return None


def _check_name(name: str, what: str) -> None:
    defect = name_defect(name)
    if defect is not None:
        raise FormatDefect(f"{what} name {name!r} {defect}")
