"""Keyless verification: sigstore bundles judged offline under identity policies.

``SigstoreVerifier`` checks a bundle with sigstore-python's
``Verifier.verify_dsse`` against the project's trusted root (or sigstore's
public one) under ``AnyOf(AllOf(Identity, [GitHub repository], [ref]))`` built
from the trusted identities: never "any valid certificate". ``tlog_summary``
reads the transparency-log entry a bundle records, for reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditpipe.errors import ConfigError, UntrustedSigner, VerificationFailed
from auditpipe.manifest.canonical import IN_TOTO_PAYLOAD_TYPE, pae
from auditpipe.signing.bundle import EntryBundle
from auditpipe.signing.identities import (
    TrustedIdentity,
    certificate_identity,
    identity_of_certificate,
)
from auditpipe.signing.interface import SignerIdentity, Verifier
from auditpipe.signing.sigstore import (
    TrustConfigBytes,
    describe_cause,
    quiet_sigstore,
    read_trust,
)

if TYPE_CHECKING:
    from sigstore.verify import Verifier as SigstoreVerifierImpl
    from sigstore.verify.policy import VerificationPolicy

PUBLIC_REKOR_LOG_ID = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"


class SigstoreVerifier(Verifier):
    """Accepts keyless bundles whose certificate names a trusted identity + issuer.

    An empty identity list trusts no keyless signature: there is no "any valid
    certificate" mode. Verification is offline (the bundle carries the Rekor
    inclusion proof, checkpoint and signed entry timestamp).
    """

    def __init__(
        self,
        identities: Iterable[TrustedIdentity],
        trust_config: Path | TrustConfigBytes | None = None,
    ) -> None:
        self.identities = tuple(identities)
        self._trust_config = trust_config
        self._impl: SigstoreVerifierImpl | None = None

    def verify(self, bundle: EntryBundle) -> SignerIdentity:
        if bundle.payload_type != IN_TOTO_PAYLOAD_TYPE:
            raise VerificationFailed(
                f"payloadType is {bundle.payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE!r}"
            )
        claimed = certificate_identity(bundle)
        if claimed is None:
            raise VerificationFailed("bundle carries no signing certificate (not keyless)")
        who = claimed.describe()
        if not self.identities:
            _check_own_certificate(bundle, who)
            raise UntrustedSigner(
                f"untrusted signer: keyless signature by {who}, but no sigstore identity is "
                "trusted (policies/identities.yaml or the policy's trust.identities)",
                signer=who,
            )
        quiet_sigstore()
        from sigstore.models import Bundle
        from sigstore.verify.policy import AnyOf

        try:
            parsed = Bundle.from_json(bundle.raw)
        except Exception as exc:  # any parse failure means: not a usable keyless bundle
            problem = f"keyless bundle of {who} is invalid: {describe_cause(exc)}"
            raise VerificationFailed(problem) from exc
        cert = parsed.signing_certificate
        accepted = [p for p in map(_policy, self.identities) if _accepts(p, cert)]
        if not accepted:
            # A certificate for an unknown identity (or from an unknown CA) cannot
            # be told apart from a forged one: either way it is not evidence.
            _check_own_certificate(bundle, who)
            raise UntrustedSigner(
                f"untrusted signer: signed by {who}, which is not a trusted identity "
                f"(trusted: {'; '.join(i.describe() for i in self.identities)})",
                signer=who,
            )
        verifier = self._verifier()
        try:
            payload_type, payload = verifier.verify_dsse(parsed, AnyOf(accepted))
        except Exception as exc:  # hostile input must fail verification, never crash
            raise VerificationFailed(
                f"keyless signature by {who} does not verify: {describe_cause(exc)}"
            ) from exc
        if payload_type != IN_TOTO_PAYLOAD_TYPE or payload != bundle.payload:
            raise VerificationFailed(f"verified DSSE payload of {who} is not the entry's payload")
        return identity_of_certificate(cert)

    def _verifier(self) -> SigstoreVerifierImpl:
        if self._impl is None:
            from sigstore.models import ClientTrustConfig
            from sigstore.verify import Verifier as Impl

            if self._trust_config is not None:
                root = read_trust(self._trust_config)[1]
            else:
                try:
                    root = ClientTrustConfig.production(offline=True).trusted_root
                except Exception as exc:
                    raise ConfigError(
                        f"cannot load sigstore's public trusted root: {describe_cause(exc)}",
                        hint="check that the sigstore cache directory is writable",
                    ) from exc
            try:
                self._impl = Impl(trusted_root=root)
            except Exception as exc:
                raise ConfigError(
                    f"unusable sigstore trusted root: {describe_cause(exc)}",
                    path=_where(self._trust_config),
                ) from exc
        return self._impl


def _check_own_certificate(bundle: EntryBundle, who: str) -> None:
    """The signature must at least verify under the certificate the bundle carries.

    Without this, swapping a trusted entry's certificate for another one would
    turn honest evidence into an "untrusted" entry that is merely ignored.
    Key types other than ECDSA cannot be checked here; those stay untrusted.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    material = bundle.model.verification_material
    chain = material.x509_certificate_chain
    if material.certificate is not None:
        raw = bytes(material.certificate.raw_bytes)
    elif chain is not None and chain.certificates:
        raw = bytes(chain.certificates[0].raw_bytes)
    else:
        return
    try:
        key = x509.load_der_x509_certificate(raw).public_key()
    except ValueError:
        raise VerificationFailed(f"keyless bundle of {who} has an unreadable certificate") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return
    digest = hashes.SHA384() if key.curve.key_size >= 384 else hashes.SHA256()
    message = pae(bundle.payload_type, bundle.payload)
    for _keyid, signature in bundle.signatures[:4]:  # bounded: hostile input
        try:
            key.verify(signature, message, ec.ECDSA(digest))
            return
        except InvalidSignature:
            continue
    raise VerificationFailed(
        f"keyless signature by {who} does not verify under its own certificate: "
        "the bundle was altered"
    )


def _where(config: Path | TrustConfigBytes | None) -> str | Path:
    if isinstance(config, TrustConfigBytes):
        return config.where
    return config or "sigstore"


def _policy(identity: TrustedIdentity) -> VerificationPolicy:
    from sigstore.verify import policy

    checks: list[VerificationPolicy] = [
        policy.Identity(identity=identity.identity, issuer=identity.issuer)
    ]
    if identity.repository:
        checks.append(policy.GitHubWorkflowRepository(identity.repository))
    if identity.ref:
        checks.append(policy.GitHubWorkflowRef(identity.ref))
    return policy.AllOf(checks)


def _accepts(rule: VerificationPolicy, cert: Any) -> bool:
    """The identity pre-check, for a clear "not trusted" message; verify_dsse re-checks."""
    try:
        rule.verify(cert)
    except Exception:  # a policy mismatch or a certificate missing the extension
        return False
    return True


def tlog_summary(bundle: EntryBundle) -> dict[str, Any] | None:
    """The transparency-log entry a keyless bundle records (None for key bundles).

    ``logIndex``, ``integratedTime`` (Unix seconds) and ``integratedAt``
    (RFC 3339), ``logId`` (hex), ``kind`` and the inclusion proof's ``treeSize``;
    ``url`` on sigstore's public search when the entry is in the public Rekor.
    As written in the bundle: show it for entries that passed verification.
    """
    entries = bundle.model.verification_material.tlog_entries
    if not entries:
        return None
    entry = entries[0]
    log_id = bytes(entry.log_id.key_id).hex()
    when = entry.integrated_time
    summary: dict[str, Any] = {
        "logIndex": entry.log_index,
        "integratedTime": when,
        "integratedAt": (
            dt.datetime.fromtimestamp(when, dt.UTC).isoformat().replace("+00:00", "Z")
            if when
            else None
        ),
        "logId": log_id,
        "kind": f"{entry.kind_version.kind}/{entry.kind_version.version}",
        "treeSize": entry.inclusion_proof.tree_size,
    }
    if log_id == PUBLIC_REKOR_LOG_ID:
        summary["url"] = f"https://search.sigstore.dev/?logIndex={entry.log_index}"
    return summary
