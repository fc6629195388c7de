"""Signing plug point (interface), local ECDSA keys, and the bundle container.

Submodules load on first use: loading a key (``signing.keys``) does not pay for
the bundle models (pydantic, sigstore's models).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditpipe.signing.bundle import EntryBundle, key_bundle, parse_bundle
    from auditpipe.signing.interface import Signer, SignerIdentity, Verifier
    from auditpipe.signing.keys import (
        DEFAULT_KEY_NAME,
        PASSPHRASE_ENV,
        TRUSTED_KEYS_DIR,
        KeyInfo,
        KeyStore,
        TrustedKeys,
        keyid_of,
    )
    from auditpipe.signing.local import LocalSigner, LocalVerifier

_HOME = {
    "bundle": ("EntryBundle", "key_bundle", "parse_bundle"),
    "interface": ("Signer", "SignerIdentity", "Verifier"),
    "keys": (
        "DEFAULT_KEY_NAME",
        "PASSPHRASE_ENV",
        "TRUSTED_KEYS_DIR",
        "KeyInfo",
        "KeyStore",
        "TrustedKeys",
        "keyid_of",
    ),
    "local": ("LocalSigner", "LocalVerifier"),
}

__all__ = [
    "DEFAULT_KEY_NAME",
    "PASSPHRASE_ENV",
    "TRUSTED_KEYS_DIR",
    "EntryBundle",
    "KeyInfo",
    "KeyStore",
    "LocalSigner",
    "LocalVerifier",
    "Signer",
    "SignerIdentity",
    "TrustedKeys",
    "Verifier",
    "key_bundle",
    "keyid_of",
    "parse_bundle",
]


def __getattr__(name: str) -> Any:
    import importlib

    for module, names in _HOME.items():
        if name in names:
            return getattr(importlib.import_module(f"auditpipe.signing.{module}"), name)
    raise AttributeError(f"module 'auditpipe.signing' has no attribute {name!r}")
