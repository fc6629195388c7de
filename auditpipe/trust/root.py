"""``TrustRoot``: the trusted state built from the bytes of ``policies/`` files.

Like python-tuf's trusted metadata set, this module does no I/O: ``read.py``
hands it the bytes of ``policies/keys/*.pem``, ``policies/identities.yaml``,
``policies/people.yaml``, ``policies/sigstore-trust.json`` and the policy files
asked for, read either from a git revision (``source`` "ref origin/main (commit
…)") or from the working tree (``source`` "working tree"). Every parse error
names the file as ``REF:path`` when it came from a revision.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.errors import ConfigError
from auditpipe.signing.identities import TrustedIdentity, parse_identities
from auditpipe.signing.keys import keyid_of, load_public_pem
from auditpipe.signing.sigstore import TrustConfigBytes

TRUST_REF_ENV = "AUDITPIPE_TRUST_REF"
POLICIES = "policies"
KEYS_DIR = "policies/keys"
PEOPLE_KEYS_DIR = "policies/people-keys"  # keys that may sign approvals only
KEY_DIRS = (KEYS_DIR, PEOPLE_KEYS_DIR)
IDENTITIES = "policies/identities.yaml"
PEOPLE = "policies/people.yaml"
SIGSTORE_TRUST = "policies/sigstore-trust.json"
TRUST_FILES = (IDENTITIES, PEOPLE, SIGSTORE_TRUST)
WORKING_TREE = "working tree"


@dataclass(frozen=True)
class TrustRoot:
    """What is trusted, and from where. ``files`` maps repo-relative paths to bytes."""

    source: str
    root: Path
    ref: str | None = None
    commit: str | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    keys: Mapping[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    identities: tuple[TrustedIdentity, ...] = ()

    @property
    def from_working_tree(self) -> bool:
        return self.ref is None

    def where(self, rel: str) -> str:
        """How to name a trust file in a message: ``REF:path`` for a revision."""
        return f"{self.ref}:{rel}" if self.ref is not None else rel

    @property
    def sigstore_trust(self) -> TrustConfigBytes | None:
        data = self.files.get(SIGSTORE_TRUST)
        return TrustConfigBytes(self.where(SIGSTORE_TRUST), data) if data is not None else None

    def approval_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """keyid -> key of every PEM under ``policies/keys/`` and ``policies/people-keys/``
        in this trust source (which of them may sign approvals is people.yaml's say)."""
        found = dict(self.keys)
        for rel in sorted(self.files):
            pure = PurePosixPath(rel)
            if str(pure.parent) == PEOPLE_KEYS_DIR and pure.suffix == ".pem":
                key = load_public_pem(self.files[rel], self.where(rel))
                found[keyid_of(key)] = key
        return found

    @property
    def people(self) -> bytes | None:
        """``policies/people.yaml`` as it is in the trust source (its meaning is the approvals')."""
        return self.files.get(PEOPLE)

    def key_for(self, path: Path | str) -> str:
        """The ``files`` key of a policy path given on the command line."""
        return policy_key(self.root, path, self.ref)

    def policy_file(self, path: Path | str, display: str) -> tuple[str, bytes]:
        """(name for messages, bytes) of a policy file; ``display`` names it in the working tree."""
        key = self.key_for(path)
        data = self.files.get(key)
        if data is not None:
            return (self.where(key) if self.ref is not None else display), data
        if self.ref is not None:
            raise ConfigError(
                f"policy file {key} is not in trust ref {self.ref} (commit {self.commit})",
                path=self.where(key),
                hint="policies are read from the trust ref, never from the pull request: "
                "merge the policy into the base branch first, or name one that is there",
            )
        raise ConfigError(
            "policy file not found",
            path=display,
            hint="start from policies/default.yaml (`auditpipe init` writes it)",
        )

    def as_json(self) -> dict[str, str | None]:
        return {"source": self.source, "ref": self.ref, "commit": self.commit}

    def describe(self) -> str:
        """One line for outputs: where trust came from."""
        if self.ref is None:
            return "trust from the working tree (no --trust-ref)"
        return f"trust from {self.source}"


def policy_key(root: Path, path: Path | str, ref: str | None) -> str:
    """A policy path as a ``files`` key: repo-relative, or absolute outside the repository
    (allowed for the working tree only: a trust ref holds only committed files)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        if ref is not None:
            raise ConfigError(
                f"policy file {path} is outside the repository, so it is not in trust ref {ref}",
                hint="name a policy committed on the trust ref, e.g. policies/default.yaml",
            ) from None
        return str(absolute)


def trust_root(
    files: Mapping[str, bytes],
    *,
    root: Path,
    ref: str | None = None,
    commit: str | None = None,
) -> TrustRoot:
    """Parse the trust files' bytes into a ``TrustRoot`` (raises ``ConfigError`` naming a file)."""
    source = WORKING_TREE if ref is None else f"ref {ref} (commit {(commit or '?')[:12]})"
    where = (lambda rel: f"{ref}:{rel}") if ref is not None else (lambda rel: rel)
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for rel in sorted(files):
        pure = PurePosixPath(rel)
        if str(pure.parent) != KEYS_DIR or pure.suffix != ".pem":
            continue
        key = load_public_pem(files[rel], where(rel))
        keyid = keyid_of(key)
        if pure.stem != keyid:
            raise ConfigError(
                f"trusted key file name does not match its keyid {keyid}",
                path=where(rel),
                hint="re-add it with `auditpipe keys trust` so the name is its keyid",
            )
        keys[keyid] = key
    raw = files.get(IDENTITIES)
    identities = parse_identities(raw, where(IDENTITIES)) if raw is not None else ()
    return TrustRoot(source, root, ref, commit, dict(files), keys, identities)
