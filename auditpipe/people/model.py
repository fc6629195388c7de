"""``Person`` and ``People``: the humans behind keys, keyless identities and git e-mails.

People are read from ``policies/people.yaml`` (see ``load.py``). Keys listed
under a person may sign approvals; whether they may sign runs is a separate
question, answered by ``policies/keys/`` and ``policies/identities.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from auditpipe.signing.identities import TrustedIdentity
from auditpipe.signing.interface import SignerIdentity


@dataclass(frozen=True)
class Person:
    """One person: a display name, an e-mail, roles, and the signers that are theirs."""

    name: str
    email: str
    roles: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    identities: tuple[TrustedIdentity, ...] = ()
    line: int = 0

    def describe(self) -> str:
        return f"{self.name} <{self.email}>"

    def holds(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class People:
    """Everyone in ``policies/people.yaml``; lookups by keyid, identity and e-mail."""

    people: tuple[Person, ...] = ()
    source: str = "policies/people.yaml"
    _by_key: dict[str, Person] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for person in self.people:
            for keyid in person.keys:
                self._by_key[keyid] = person

    def __iter__(self) -> Iterator[Person]:
        return iter(self.people)

    def __len__(self) -> int:
        return len(self.people)

    def by_keyid(self, keyid: str | None) -> Person | None:
        return self._by_key.get(keyid or "")

    def by_email(self, email: str | None) -> Person | None:
        wanted = (email or "").strip().lower()
        return next((p for p in self.people if p.email.lower() == wanted), None) if wanted else None

    def by_identity(self, identity: str | None, issuer: str | None) -> Person | None:
        for person in self.people:
            for known in person.identities:
                if known.identity == identity and known.issuer == issuer:
                    return person
        return None

    def for_signer(self, signer: SignerIdentity | None) -> Person | None:
        """The person a (verified or claimed) signer belongs to, if anyone listed."""
        if signer is None:
            return None
        if signer.kind == "key":
            return self.by_keyid(signer.keyid)
        return self.by_identity(signer.identity, signer.issuer)

    def name_of(self, signer: SignerIdentity | None) -> str:
        """How a signer is shown: the person, else the raw key or identity."""
        person = self.for_signer(signer)
        if person is not None:
            return person.describe()
        if signer is None:
            return "unknown signer"
        if signer.kind == "key":
            return f"unlisted key {(signer.keyid or '?')[:12]}"
        return f"{signer.identity} via {signer.issuer}"

    def identities(self) -> tuple[TrustedIdentity, ...]:
        return tuple(i for p in self.people for i in p.identities)

    def keyids(self) -> tuple[str, ...]:
        return tuple(self._by_key)
