"""The verifier a policy implies: its trusted keys (and, later, keyless identities)."""

from __future__ import annotations

from auditpipe.errors import ConfigError
from auditpipe.policy.model import Policy
from auditpipe.signing.interface import Verifier
from auditpipe.signing.keys import TRUSTED_KEYS_DIR, TrustedKeys
from auditpipe.signing.local import LocalVerifier
from auditpipe.workspace import Workspace


def policy_verifier(workspace: Workspace, policy: Policy | None) -> Verifier:
    """Trust the policy's keyids (all of ``policies/keys/`` when it names none)."""
    keys = TrustedKeys(workspace.root / TRUSTED_KEYS_DIR).load()
    if policy is not None and policy.trust.keys:
        unknown = [k for k in policy.trust.keys if k not in keys]
        if unknown:
            raise ConfigError(
                f"policy {policy.name!r} trusts keys that are not in policies/keys/: "
                f"{', '.join(unknown)}",
                hint="add their public keys with `auditpipe keys trust`",
            )
        keys = {k: v for k, v in keys.items() if k in policy.trust.keys}
    return LocalVerifier(keys)
