"""Keyless signing and verification with sigstore (for CI runs).

``SigstoreSigner`` trades the run's OIDC identity (GitHub Actions' ambient token,
or one given explicitly) for a short-lived Fulcio certificate, signs the
statement's exact canonical bytes as DSSE with sigstore-python's
``Signer.sign_dsse``, logs the signature in Rekor and returns the bundle v0.3
JSON. ``SigstoreVerifier`` checks such bundles offline with sigstore-python's
``Verifier.verify_dsse`` under a policy of trusted identity + issuer pairs.

Which sigstore instance: ``policies/sigstore-trust.json`` when the project has
one (a ``ClientTrustConfig``: trusted root + signing config, as ``sigstore
--trust-config`` takes; a bare ``TrustedRoot`` is enough for verifying),
otherwise the public-good instance (verification uses the trusted root shipped
with sigstore-python, offline). Verification lives in ``sigstore_verify``. sigstore is imported only
when a keyless signature is made or checked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditpipe.errors import ConfigError, SigningError
from auditpipe.manifest.canonical import IN_TOTO_PAYLOAD_TYPE, canonical_bytes
from auditpipe.manifest.statement import load_json
from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.identities import (
    identity_of_certificate,
)
from auditpipe.signing.interface import Signer, SignerIdentity

if TYPE_CHECKING:
    from sigstore.dsse import Statement
    from sigstore.models import Bundle, ClientTrustConfig, TrustedRoot
    from sigstore.sign import Signer as SigstoreSession
    from sigstore.sign import SigningContext

TRUST_CONFIG_FILE = Path("policies") / "sigstore-trust.json"
IDENTITY_TOKEN_ENV = "AUDITPIPE_IDENTITY_TOKEN"
_RENEW_MARGIN = dt.timedelta(seconds=30)

NO_CREDENTIAL_HINT = (
    "in GitHub Actions add `permissions: id-token: write` to the workflow (or job); "
    f"elsewhere pass --identity-token or set {IDENTITY_TOKEN_ENV}; "
    "or sign with a local key (--signer local)"
)


@functools.cache
def quiet_sigstore() -> None:
    # sigstore logs warnings (e.g. "TUF repository is loaded in offline mode")
    # that Python would print to stderr when the application configures no logging.
    logging.getLogger("sigstore").addHandler(logging.NullHandler())


def ambient_token() -> str | None:
    """An ambient OIDC token for audience ``sigstore`` (GitHub Actions, GitLab CI,
    Buildkite, CircleCI, Google Cloud), or None outside such an environment."""
    quiet_sigstore()
    from sigstore.oidc import IdentityError, detect_credential

    try:
        return detect_credential()
    except IdentityError as exc:
        raise SigningError(
            f"this CI offers an OIDC credential but did not grant one: {exc}",
            hint=NO_CREDENTIAL_HINT,
        ) from exc


class SigstoreSigner(Signer):
    """Keyless signer: OIDC identity -> Fulcio certificate -> DSSE -> Rekor entry.

    A certificate lives ten minutes; when it is about to expire a new token
    (ambient credentials are fetched again) and certificate are obtained, so a
    long pipeline keeps signing. The first certificate is requested here, so a
    missing credential or an unreachable service fails before any work is done.
    """

    def __init__(
        self, token: str | None = None, *, trust_config: Path | None = None, ambient: bool = False
    ) -> None:
        """``token``: an identity token to use; with ``ambient`` (or without a token) the
        CI's ambient credential is fetched whenever a fresh token is needed."""
        quiet_sigstore()
        self._token = token  # kept when given; an ambient one is used once, then re-fetched
        self._ambient = ambient or token is None
        self._context = _signing_context(trust_config)
        self._session: SigstoreSession | None = None
        self._expires = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._identity = SignerIdentity(kind="sigstore")
        self._lock = threading.Lock()
        self._open()

    @property
    def identity(self) -> SignerIdentity:
        return self._identity

    def sign(self, payload: bytes, payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
        if payload_type != IN_TOTO_PAYLOAD_TYPE:
            raise SigningError(f"sigstore signs in-toto statements only, not {payload_type!r}")
        statement = _exact_statement(payload)
        from sigstore._internal.fulcio import ExpiredCertificate
        from sigstore.oidc import ExpiredIdentity

        with self._lock:
            if dt.datetime.now(dt.UTC) + _RENEW_MARGIN >= self._expires:
                self._open()
            try:
                bundle = self._sign(statement)
            except (ExpiredCertificate, ExpiredIdentity):
                self._open()
                bundle = self._sign(statement)
        # Stored in its one byte form, RFC 8785 (ledger/format.py); Rekor's
        # entry binds the signature bytes, so they are kept as sigstore made them.
        raw = canonical_bytes(load_json(bundle.to_json().encode("utf-8")))
        stored = parse_bundle(raw)
        # sigstore's Statement keeps the bytes it is given; this guards the
        # contract (payload = our canonical bytes) against any future change.
        if stored.payload != payload or stored.payload_type != payload_type:
            raise SigningError(
                "sigstore did not sign the statement's exact bytes",
                hint="report this: the installed sigstore version re-serializes DSSE payloads",
            )
        return raw

    def _sign(self, statement: Statement) -> Bundle:
        assert self._session is not None
        with _service_errors("signing"):
            return self._session.sign_dsse(statement)

    def _open(self) -> None:
        """A fresh identity token and signing certificate."""
        from sigstore.oidc import IdentityError, IdentityToken
        from sigstore.sign import Signer as Session

        raw = self._token
        if self._ambient:
            self._token = None
            raw = raw or ambient_token()
        if raw is None:
            raise SigningError(
                "no OIDC identity token for keyless signing (no ambient CI credential found)",
                hint=NO_CREDENTIAL_HINT,
            )
        try:
            token = IdentityToken(raw)
        except IdentityError as exc:
            problem = describe_cause(exc)
            if "validity period" in problem:
                problem = "it has expired (or is not valid yet)"
            raise SigningError(
                f"the identity token cannot be used: {problem}",
                hint=(
                    "tokens are short-lived: get a fresh one (audience `sigstore`) and pass it "
                    f"with --identity-token or {IDENTITY_TOKEN_ENV}"
                    if not self._ambient
                    else NO_CREDENTIAL_HINT
                ),
            ) from exc
        if not token.in_validity_period():
            raise SigningError(
                "the identity token has expired",
                hint=f"get a fresh one and pass it with --identity-token or {IDENTITY_TOKEN_ENV}",
            )
        with _service_errors("requesting a signing certificate from Fulcio"):
            session = Session(token, self._context, cache=True)
            # The certificate the session just obtained (sigstore keeps it
            # privately; the pinned version's attribute, covered by the tests).
            cert = session._signing_cert()
        self._session = session
        self._expires = cert.not_valid_after_utc
        self._identity = identity_of_certificate(cert)


def _exact_statement(payload: bytes) -> Statement:
    """Our canonical bytes as sigstore's ``Statement``, byte for byte.

    ``Statement(bytes)`` keeps the bytes and only validates them, but refuses a
    statement without subjects, which auditpipe writes for failed runs (a failed
    run produces no artifacts). Those go through a subclass that keeps the bytes
    without that check; the DSSE signature covers the bytes either way.
    """
    from sigstore import dsse
    from sigstore.errors import Error as SigstoreError

    try:
        subjects = json.loads(payload).get("subject")
    except (ValueError, AttributeError) as exc:
        raise SigningError("the payload is not an in-toto statement (JSON object)") from exc
    if not subjects:

        class _Subjectless(dsse.Statement):
            def __init__(self, contents: bytes) -> None:
                self._contents = contents

        return _Subjectless(payload)
    try:
        return dsse.Statement(payload)
    except SigstoreError as exc:
        raise SigningError(f"sigstore refuses the statement: {exc}") from exc


@contextlib.contextmanager
def _service_errors(doing: str) -> Iterator[None]:
    """Map the network and service errors of sigstore's clients to ``SigningError``."""
    import requests
    from sigstore._internal.fulcio.client import FulcioClientError
    from sigstore._internal.rekor import RekorClientError
    from sigstore.errors import Error as SigstoreError

    try:
        yield
    except requests.RequestException as exc:
        raise SigningError(
            f"cannot reach the sigstore service while {doing}: {describe_cause(exc)}",
            hint="check the network; the services come from policies/sigstore-trust.json, "
            "or are sigstore's public instance when the project has none",
        ) from exc
    except FulcioClientError as exc:
        raise SigningError(
            f"Fulcio refused a signing certificate: {exc or 'no reason given'}",
            hint="the identity token may have expired, have another audience than `sigstore`, "
            "or come from an issuer this Fulcio does not accept",
        ) from exc
    except RekorClientError as exc:
        raise SigningError(f"Rekor refused the transparency-log entry: {exc}") from exc
    except SigstoreError as exc:
        raise SigningError(f"sigstore failed while {doing}: {describe_cause(exc)}") from exc
    except (KeyError, ValueError) as exc:
        raise SigningError(f"unexpected answer from the sigstore service while {doing}") from exc


def describe_cause(exc: BaseException) -> str:
    text = str(exc).strip()
    inner = exc.__cause__
    if inner is not None and str(inner).strip():
        text = f"{text}: {str(inner).strip()}" if text else str(inner).strip()
    return text or type(exc).__name__


def _signing_context(trust_config: Path | None) -> SigningContext:
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import SigningContext

    config: ClientTrustConfig | None
    if trust_config is None:
        with _service_errors("updating sigstore's trust root (TUF)"):
            config = ClientTrustConfig.production()
    else:
        config, _root = read_trust(trust_config)
        if config is None:
            raise ConfigError(
                "is a TrustedRoot; signing also needs the instance's signing config",
                path=trust_config,
                hint="write a ClientTrustConfig (trustedRoot + signingConfig) there",
            )
    try:
        return SigningContext.from_trust_config(config)
    except Exception as exc:  # sigstore raises several types for a bad signing config
        raise ConfigError(
            f"unusable sigstore signing config: {exc}", path=trust_config or "sigstore"
        ) from exc


@dataclass(frozen=True)
class TrustConfigBytes:
    """A sigstore trust config read elsewhere (e.g. from a trust ref's git objects)."""

    where: str
    data: bytes


def read_trust(source: Path | TrustConfigBytes) -> tuple[ClientTrustConfig | None, TrustedRoot]:
    """A ClientTrustConfig (with its trusted root) or a bare TrustedRoot, from JSON."""
    from sigstore.models import ClientTrustConfig, TrustedRoot
    from sigstore_models.trustroot import v1 as trustroot_v1

    path = source.where if isinstance(source, TrustConfigBytes) else source
    hint = (
        "write a sigstore ClientTrustConfig (trustedRoot + signingConfig) or TrustedRoot JSON, "
        "or remove the file to use sigstore's public instance"
    )
    try:
        data = source.data if isinstance(source, TrustConfigBytes) else source.read_bytes()
        text = data.decode("utf-8")
        media = str(json.loads(text).get("mediaType", ""))
        if "clienttrustconfig" in media:
            config = ClientTrustConfig.from_json(text)
            return config, config.trusted_root
        if "trustedroot" in media:
            return None, TrustedRoot(trustroot_v1.TrustedRoot.from_json(data))
    except FileNotFoundError as exc:
        raise ConfigError("sigstore trust config not found", path=path, hint=hint) from exc
    except Exception as exc:  # JSON, pydantic and sigstore errors alike mean a bad file
        problem = f"invalid sigstore trust config: {describe_cause(exc)}"
        raise ConfigError(problem, path=path, hint=hint) from exc
    raise ConfigError("unknown mediaType for a sigstore trust config", path=path, hint=hint)
