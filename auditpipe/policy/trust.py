"""The verifier a policy implies: the keys and keyless identities it trusts.

A policy's ``trust:`` is the whole set of signers it accepts as soon as it names
any key or identity: ``trust: {keys: [K]}`` accepts runs signed with K and no
keyless run, ``trust: {identities: [I]}`` accepts keyless runs by I and no key.
A policy that names neither (or no policy, as for ``auditpipe verify``) accepts
the project's trust set: every key under ``policies/keys/`` and every identity
in ``policies/identities.yaml``.
"""

from __future__ import annotations

from auditpipe.errors import ConfigError
from auditpipe.policy.model import Policy
from auditpipe.signing.composite import CompositeVerifier
from auditpipe.signing.factory import keyless_verifier, project_identities
from auditpipe.signing.identities import identities_from
from auditpipe.signing.interface import Verifier
from auditpipe.signing.keys import TRUSTED_KEYS_DIR, TrustedKeys
from auditpipe.signing.local import LocalVerifier
from auditpipe.workspace import Workspace


def policy_verifier(workspace: Workspace, policy: Policy | None) -> Verifier:
    """Trust what the policy names; the project's keys and identities when it names nothing."""
    keys = TrustedKeys(workspace.root / TRUSTED_KEYS_DIR).load()
    trust = policy.trust if policy is not None else None
    if trust is None or not (trust.keys or trust.identities):
        return CompositeVerifier(
            LocalVerifier(keys), keyless_verifier(workspace, project_identities(workspace))
        )
    assert policy is not None
    unknown = [k for k in trust.keys if k not in keys]
    if unknown:
        raise ConfigError(
            f"policy {policy.name!r} trusts keys that are not in policies/keys/: "
            f"{', '.join(unknown)}",
            hint="add their public keys with `auditpipe keys trust`",
        )
    pinned = {k: v for k, v in keys.items() if k in trust.keys}
    identities = identities_from(
        (i.model_dump(exclude_none=True) for i in trust.identities), f"policy {policy.name}"
    )
    return CompositeVerifier(LocalVerifier(pinned), keyless_verifier(workspace, identities))
