"""Build the configured signer and the project's verifier.

Which signer signs new entries: ``--signer`` on the command line, else the
``signer:`` setting of ``auditpipe.yaml``, else ``local``:

- ``local``: the user's ECDSA key (``--key`` / ``$AUDITPIPE_KEY`` / ``default``);
- ``sigstore``: keyless, with an explicit identity token (``--identity-token`` or
  ``$AUDITPIPE_IDENTITY_TOKEN``) or the CI's ambient OIDC credential;
- ``auto``: ``sigstore`` when an identity token is given or an ambient OIDC
  credential is available (e.g. GitHub Actions with ``id-token: write``),
  ``local`` otherwise — one setting for laptops and CI alike.

The verifier trusts what a ``TrustRoot`` holds (``auditpipe.trust``): the keys
under ``policies/keys/`` and the keyless identities in ``policies/identities.yaml``
at the trust ref (or in the working tree); keyless bundles are checked against
its ``policies/sigstore-trust.json`` when present, else sigstore's public instance.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from auditpipe.errors import ConfigError
from auditpipe.signing.composite import CompositeVerifier
from auditpipe.signing.identities import TrustedIdentity
from auditpipe.signing.interface import Signer, Verifier

# Re-exported: callers read the key settings' names from here.
from auditpipe.signing.keys import DEFAULT_KEY_NAME as DEFAULT_KEY_NAME
from auditpipe.signing.keys import KEY_ENV as KEY_ENV
from auditpipe.signing.keys import PASSPHRASE_ENV as PASSPHRASE_ENV
from auditpipe.signing.keys import KeyStore, load_signing_key
from auditpipe.signing.local import LocalSigner, LocalVerifier

# Cheap: auditpipe.signing.sigstore imports sigstore itself only when it signs or verifies.
from auditpipe.signing.sigstore import (
    IDENTITY_TOKEN_ENV,
    TRUST_CONFIG_FILE,
    SigstoreSigner,
    ambient_token,
)
from auditpipe.signing.sigstore_verify import SigstoreVerifier
from auditpipe.workspace import Workspace

if TYPE_CHECKING:
    from auditpipe.trust.root import TrustRoot

SIGNER_CHOICES = ("local", "sigstore", "auto")
PIPELINE_FILE = "auditpipe.yaml"


def local_signer(
    key_name: str | None = None, passphrase_env: str | None = None, store: KeyStore | None = None
) -> LocalSigner:
    """The user's local key signer: ``--key`` / ``$AUDITPIPE_KEY`` / ``default``."""
    name, key = load_signing_key(key_name, passphrase_env, store)
    return LocalSigner(key, name)


def signer_for(
    workspace: Workspace,
    key_name: str | None = None,
    passphrase_env: str | None = None,
    signer: str | None = None,
    identity_token: str | None = None,
) -> Signer:
    """The signer for new entries in this workspace (see the module docstring).

    ``signer`` is the ``--signer`` choice (None: the project's setting);
    ``identity_token`` the ``--identity-token`` value.
    """
    choice = signer or project_signer(workspace) or "local"
    if choice not in SIGNER_CHOICES:
        raise ConfigError(
            f"unknown signer {choice!r}", hint=f"choose one of {', '.join(SIGNER_CHOICES)}"
        )
    if choice == "local":
        if identity_token:
            raise ConfigError(
                "--identity-token is for keyless signing, but the signer is `local`",
                hint="add --signer sigstore (or set `signer: sigstore` in auditpipe.yaml)",
            )
        return local_signer(key_name, passphrase_env)
    token = identity_token or os.environ.get(IDENTITY_TOKEN_ENV) or None
    if token is not None:
        return SigstoreSigner(token, trust_config=trust_config_path(workspace))
    detected = ambient_token()
    if detected is None and choice == "auto":
        return local_signer(key_name, passphrase_env)
    # None here makes SigstoreSigner explain how to get a credential.
    return SigstoreSigner(detected, trust_config=trust_config_path(workspace), ambient=True)


def project_signer(workspace: Workspace) -> str | None:
    """The ``signer:`` setting of the project's ``auditpipe.yaml`` (None when unset)."""
    path = workspace.root / PIPELINE_FILE
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~20x faster
        doc = yaml.load(path.read_bytes(), Loader=loader)  # a safe loader either way
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the signer setting: {exc}", path=path) from exc
    value = doc.get("signer") if isinstance(doc, dict) else None
    if value is None:
        return None
    if value not in SIGNER_CHOICES:
        raise ConfigError(
            f"signer must be one of {', '.join(SIGNER_CHOICES)}, not {value!r}", path=path
        )
    return str(value)


def trust_config_path(workspace: Workspace) -> Path | None:
    """``policies/sigstore-trust.json`` when the project pins its sigstore instance."""
    path = workspace.root / TRUST_CONFIG_FILE
    return path if path.exists() else None


def keyless_verifier(trust: TrustRoot, identities: tuple[TrustedIdentity, ...]) -> SigstoreVerifier:
    """A verifier of keyless bundles trusting ``identities`` (sigstore imported on first use),
    against the trust root's ``policies/sigstore-trust.json`` when it has one."""
    return SigstoreVerifier(identities, trust.sigstore_trust)


def verifier_for(trust: TrustRoot) -> Verifier:
    """The project's trust, as the trust root holds it: the keys under ``policies/keys/``
    and the keyless identities in ``policies/identities.yaml``."""
    from auditpipe.trust.root import KEYS_DIR

    return CompositeVerifier(
        LocalVerifier(dict(trust.keys), f"{trust.where(KEYS_DIR)}/"),
        keyless_verifier(trust, trust.identities),
    )
