"""Keyless identities: the ones a project trusts, and the one a certificate names.

A sigstore (keyless) signature is trusted by *who* signed, not by a key: the
identity in the signing certificate's SAN (a workflow URL, an e-mail address)
together with the OIDC issuer that vouched for it, and for GitHub Actions
optionally the repository and ref the workflow ran for. The project lists them
in ``policies/identities.yaml`` (the keyless counterpart of ``policies/keys/``)::

    identities:
      - identity: https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main
        issuer: https://token.actions.githubusercontent.com
        repository: acme/models        # optional (GitHub Actions)
        ref: refs/heads/main           # optional (GitHub Actions)

This module reads that file and reads (without verifying) the identity a
bundle's certificate claims, for display; it never imports sigstore.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

from auditpipe.errors import ConfigError
from auditpipe.signing.bundle import EntryBundle
from auditpipe.signing.interface import SignerIdentity

IDENTITIES_FILE = Path("policies") / "identities.yaml"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

_FIELDS = ("identity", "issuer", "repository", "ref")
_ISSUER_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # raw string (deprecated form)
_ISSUER_V2_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # DER UTF8String
_OTHERNAME_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


@dataclass(frozen=True)
class TrustedIdentity:
    """One keyless signer a project or policy trusts: identity + issuer (+ GitHub repo, ref)."""

    identity: str
    issuer: str
    repository: str | None = None
    ref: str | None = None

    def describe(self) -> str:
        extra = ", ".join(
            f"{name} {value}"
            for name, value in (("repository", self.repository), ("ref", self.ref))
            if value
        )
        return f"{self.identity} via {self.issuer}" + (f" ({extra})" if extra else "")


def identities_from(items: Iterable[Any], source: Path | str) -> tuple[TrustedIdentity, ...]:
    """Validate raw mappings (a YAML list, or policy models' dumps) as trusted identities."""
    found: list[TrustedIdentity] = []
    for index, item in enumerate(items):
        where = f"identities[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} is not a mapping", path=source, hint=_HINT)
        unknown = sorted(set(item) - set(_FIELDS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}", path=source, hint=_HINT)
        values: dict[str, str | None] = {}
        for name in _FIELDS:
            value = item.get(name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"{where}: {name} must be a non-empty string", path=source)
            values[name] = value
        identity, issuer = values["identity"], values["issuer"]
        if identity is None or issuer is None:
            missing = "identity" if identity is None else "issuer"
            raise ConfigError(
                f"{where}: missing {missing!r}",
                path=source,
                hint="a keyless signer is trusted by identity AND issuer, never by either alone",
            )
        found.append(TrustedIdentity(identity, issuer, values["repository"], values["ref"]))
    return tuple(found)


def load_identities(path: Path) -> tuple[TrustedIdentity, ...]:
    """The identities listed in ``path`` (``policies/identities.yaml``); none if it is absent."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise ConfigError(f"cannot read trusted identities: {exc}", path=path) from exc
    return parse_identities(data, path)


def parse_identities(data: bytes, source: Path | str) -> tuple[TrustedIdentity, ...]:
    """The identities in the bytes of an ``identities.yaml`` (``source`` names it in errors)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read trusted identities: {exc}", path=source) from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            path=source,
            line=mark.line + 1 if mark is not None else None,
        ) from exc
    if doc is None:
        return ()
    if not isinstance(doc, dict) or set(doc) - {"identities"}:
        raise ConfigError("expected a mapping with one key, `identities`", path=source, hint=_HINT)
    items = doc.get("identities") or []
    if not isinstance(items, list):
        raise ConfigError("`identities` must be a list", path=source, hint=_HINT)
    return identities_from(items, source)


_HINT = (
    "list entries like `- {identity: https://github.com/OWNER/REPO/.github/workflows/"
    "WORKFLOW.yml@refs/heads/main, issuer: https://token.actions.githubusercontent.com}`"
)


def certificate_identity(bundle: EntryBundle) -> SignerIdentity | None:
    """The identity a keyless bundle's certificate *claims* (SAN and OIDC issuer).

    Not verified: for display (``auditpipe log``) and for naming the signer in
    error messages. Trust decisions come from ``SigstoreVerifier`` only.
    """
    material = bundle.model.verification_material
    raw: bytes | None = None
    chain = material.x509_certificate_chain
    if material.certificate is not None:
        raw = bytes(material.certificate.raw_bytes)
    elif chain is not None and chain.certificates:
        raw = bytes(chain.certificates[0].raw_bytes)
    if raw is None:
        return None
    try:
        return identity_of_certificate(x509.load_der_x509_certificate(raw))
    except ValueError:
        return SignerIdentity(kind="sigstore", identity="<unreadable certificate>", issuer="?")


def claimed_signer(bundle: EntryBundle) -> SignerIdentity:
    """Who a bundle says signed it: its key hint, or its certificate's identity (unverified)."""
    if bundle.is_keyless:
        claimed = certificate_identity(bundle)
        if claimed is not None:
            return claimed
    return SignerIdentity(kind="key", keyid=bundle.key_hint)


def identity_of_certificate(cert: x509.Certificate) -> SignerIdentity:
    """SAN and OIDC issuer of a Fulcio-style signing certificate (as written in it)."""
    try:
        identity = _san(cert)
    except x509.ExtensionNotFound:
        identity = None
    return SignerIdentity(
        kind="sigstore", identity=identity or "<no SAN>", issuer=_issuer(cert) or "<no issuer>"
    )


def _san(cert: x509.Certificate) -> str | None:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    for value in names.get_values_for_type(x509.UniformResourceIdentifier):
        return value
    for value in names.get_values_for_type(x509.RFC822Name):
        return value
    for other in names.get_values_for_type(x509.OtherName):
        if other.type_id == _OTHERNAME_OID:
            return _der_string(other.value) or other.value.decode("utf-8", "replace")
    return None


def _issuer(cert: x509.Certificate) -> str | None:
    for oid, der in ((_ISSUER_V2_OID, True), (_ISSUER_OID, False)):
        try:
            ext = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        data = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
        text = _der_string(data) if der else data.decode("utf-8", "replace")
        if text:
            return text
    return None


def _der_string(data: bytes) -> str | None:
    """The text of a DER string (UTF8String, PrintableString, IA5String), or None."""
    if len(data) < 2 or data[0] not in (0x0C, 0x13, 0x16):
        return None
    length, offset = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or len(data) < 2 + count:
            return None
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    body = data[offset : offset + length]
    return body.decode("utf-8", "replace") if len(body) == length else None
