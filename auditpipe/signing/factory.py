"""Build the configured signer and the project's verifier."""

from __future__ import annotations

import os

from auditpipe.errors import SigningKeyError
from auditpipe.signing.interface import Signer, Verifier
from auditpipe.signing.keys import (
    DEFAULT_KEY_NAME,
    PASSPHRASE_ENV,
    TRUSTED_KEYS_DIR,
    KeyStore,
    TrustedKeys,
)
from auditpipe.signing.local import LocalSigner, LocalVerifier
from auditpipe.workspace import Workspace

KEY_ENV = "AUDITPIPE_KEY"


def local_signer(
    key_name: str | None = None, passphrase_env: str | None = None, store: KeyStore | None = None
) -> LocalSigner:
    """The user's local key signer: ``--key`` / ``$AUDITPIPE_KEY`` / ``default``."""
    name = key_name or os.environ.get(KEY_ENV) or DEFAULT_KEY_NAME
    env_name = passphrase_env or PASSPHRASE_ENV
    if passphrase_env and passphrase_env not in os.environ:
        raise SigningKeyError(
            f"environment variable {passphrase_env} (from --passphrase-env) is not set",
            hint=f"export {passphrase_env} with the key's passphrase",
        )
    passphrase = os.environ.get(env_name)
    keys = store or KeyStore()
    key = keys.private_key(name, passphrase.encode() if passphrase else None)
    return LocalSigner(key, name)


def signer_for(
    workspace: Workspace, key_name: str | None = None, passphrase_env: str | None = None
) -> Signer:
    """The signer for new entries in this workspace (local keys for now)."""
    del workspace  # the sigstore signer will read the project's signer setting
    return local_signer(key_name, passphrase_env)


def verifier_for(workspace: Workspace) -> Verifier:
    """A verifier trusting the keys committed under ``policies/keys/``."""
    return LocalVerifier(TrustedKeys(workspace.root / TRUSTED_KEYS_DIR).load())
