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
from auditpipe.trust.root import TrustRoot
from auditpipe.workspace import Workspace

PEOPLE_KEYS_DIR = Path("policies") / "people-keys"


def people_public_keys(root: Path, people: People) -> dict[str, ec.EllipticCurvePublicKey]:
    """keyid -> public key for every key a person lists whose PEM the repository holds."""
    found: dict[str, ec.EllipticCurvePublicKey] = {}
    for directory in (TRUSTED_KEYS_DIR, PEOPLE_KEYS_DIR):
        found.update(TrustedKeys(root / directory).load())
    wanted = set(people.keyids())
    return {keyid: key for keyid, key in found.items() if keyid in wanted}


def trusted_approval_verifier(trust: TrustRoot, people: People) -> Verifier:
    """As :func:`approval_verifier`, with people's keys read from the trust source
    (a trust ref's ``policies/``), so a change under review cannot add an approver."""
    wanted = set(people.keyids())
    keys = {k: v for k, v in trust.approval_keys().items() if k in wanted}
    return CompositeVerifier(
        LocalVerifier(keys, where=trust.where("policies/people.yaml")),
        keyless_verifier(trust, people.identities()),
    )


def approval_verifier(workspace: Workspace, people: People) -> Verifier:
    """Accepts approvals signed by a person's listed key or keyless identity, nothing
    else, trusting the working tree's ``policies/`` (used when *making* an approval;
    judging one uses :func:`trusted_approval_verifier` with the trust ref)."""
    from auditpipe.trust.read import open_trust

    return trusted_approval_verifier(open_trust(workspace, None, ()), people)


def missing_pem(keyid: str) -> ConfigError:
    return ConfigError(
        f"no public key file for keyid {keyid}",
        path=PEOPLE_KEYS_DIR / f"{keyid}.pem",
        hint="export it with `auditpipe keys export` and commit it as "
        f"{PEOPLE_KEYS_DIR.as_posix()}/{keyid}.pem",
    )
