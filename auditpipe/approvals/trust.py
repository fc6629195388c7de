"""Who may sign approvals: the keys and keyless identities listed for people.

This is a trust set of its own, separate from the one for runs
(``policies/keys/`` and ``policies/identities.yaml``): a validator's key can
sign approvals without being able to sign runs. A person's key is listed by
keyid in ``policies/people.yaml``; its public PEM lives in
``policies/people-keys/<keyid>.pem`` (or ``policies/keys/`` when the same key
also signs runs).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.errors import ConfigError
from auditpipe.people import People
from auditpipe.signing.composite import CompositeVerifier
from auditpipe.signing.factory import keyless_verifier
from auditpipe.signing.interface import Verifier
from auditpipe.signing.keys import TRUSTED_KEYS_DIR, TrustedKeys
from auditpipe.signing.local import LocalVerifier
from auditpipe.workspace import Workspace

PEOPLE_KEYS_DIR = Path("policies") / "people-keys"


def people_public_keys(root: Path, people: People) -> dict[str, ec.EllipticCurvePublicKey]:
    """keyid -> public key for every key a person lists whose PEM the repository holds."""
    found: dict[str, ec.EllipticCurvePublicKey] = {}
    for directory in (TRUSTED_KEYS_DIR, PEOPLE_KEYS_DIR):
        found.update(TrustedKeys(root / directory).load())
    wanted = set(people.keyids())
    return {keyid: key for keyid, key in found.items() if keyid in wanted}


def approval_verifier(workspace: Workspace, people: People) -> Verifier:
    """Accepts approvals signed by a person's listed key or keyless identity, nothing else."""
    return CompositeVerifier(
        LocalVerifier(people_public_keys(workspace.root, people)),
        keyless_verifier(workspace, people.identities()),
    )


def missing_pem(keyid: str) -> ConfigError:
    return ConfigError(
        f"no public key file for keyid {keyid}",
        path=PEOPLE_KEYS_DIR / f"{keyid}.pem",
        hint="export it with `auditpipe keys export` and commit it as "
        f"{PEOPLE_KEYS_DIR.as_posix()}/{keyid}.pem",
    )
