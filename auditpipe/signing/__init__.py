"""Signing plug point (interface), local ECDSA keys, and the bundle container."""

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
