"""The verifier a policy implies: the keys and keyless identities it trusts.

A policy's ``trust:`` is the whole set of signers it accepts as soon as it names
any key or identity: ``trust: {keys: [K]}`` accepts runs signed with K and no
keyless run, ``trust: {identities: [I]}`` accepts keyless runs by I and no key.
A policy that names neither (or no policy, as for ``auditpipe verify``) accepts
the trust root's set: every key under ``policies/keys/`` and every identity in
``policies/identities.yaml`` at the trust ref (or in the working tree).
"""

from __future__ import annotations

from auditpipe.errors import ConfigError
from auditpipe.policy.model import Policy
from auditpipe.signing.composite import CompositeVerifier
from auditpipe.signing.factory import keyless_verifier, verifier_for
from auditpipe.signing.identities import identities_from
from auditpipe.signing.interface import Verifier
from auditpipe.signing.local import LocalVerifier
from auditpipe.trust.root import KEYS_DIR, TrustRoot


def policy_verifier(trust: TrustRoot, policy: Policy | None) -> Verifier:
    """Trust what the policy names; the trust root's keys and identities when it names nothing."""
    rules = policy.trust if policy is not None else None
    if rules is None or not (rules.keys or rules.identities):
        return verifier_for(trust)
    assert policy is not None
    unknown = [k for k in rules.keys if k not in trust.keys]
    if unknown:
        raise ConfigError(
            f"policy {policy.name!r} trusts keys that are not in {trust.where(KEYS_DIR)}/: "
            f"{', '.join(unknown)}",
            hint="add their public keys with `auditpipe keys trust`"
            + ("" if trust.from_working_tree else f" and merge them into {trust.ref}"),
        )
    pinned = {k: v for k, v in trust.keys.items() if k in rules.keys}
    identities = identities_from(
        (i.model_dump(exclude_none=True) for i in rules.identities), f"policy {policy.name}"
    )
    where = f"policy {policy.name}'s trust.keys"
    return CompositeVerifier(LocalVerifier(pinned, where), keyless_verifier(trust, identities))
