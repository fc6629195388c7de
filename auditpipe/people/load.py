"""Read ``policies/people.yaml``: from bytes (a trust revision's blob) or the working tree.

::

    people:
      - name: Alice Ng
        email: alice@bank.example
        roles: [data-scientist]
        keys: [<keyid>]                 # as `auditpipe keys list` shows it
        identities:                     # keyless signers that are hers
          - {identity: alice@bank.example, issuer: https://accounts.google.com}
      - name: Bob Roy
        email: bob@bank.example
        roles: [validator]
        keys: [<keyid>]

Every mistake is a ``ConfigError`` with the file and line. A keyid, an identity
or an e-mail belongs to at most one person: otherwise a signature could not be
attributed, and separation of duties could not be judged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from yaml.nodes import Node

from auditpipe.errors import ConfigError
from auditpipe.people.model import People, Person
from auditpipe.pipeline.yamlpos import NodeReader, compose, decode, is_null, line_of
from auditpipe.signing.identities import TrustedIdentity

if TYPE_CHECKING:
    from auditpipe.trust.root import TrustRoot

PEOPLE_FILE = Path("policies") / "people.yaml"
PERSON_FIELDS = ("name", "email", "roles", "keys", "identities")
IDENTITY_FIELDS = ("identity", "issuer", "repository", "ref")
KEYID = re.compile(r"^[0-9a-f]{64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
HINT = "see the format in the README's `People and approvals` section"


def load_people(data: bytes, where: str) -> People:
    """People from the bytes of a ``people.yaml`` (``where`` names it in errors)."""
    reader = NodeReader(where)
    root = compose(decode(data, where=where), where=where)
    if root is None or is_null(root):
        return People((), where)
    top = reader.fields(root, ("people",), "people.yaml")
    if "people" not in top:
        return People((), where)
    people: list[Person] = []
    seen_keys: dict[str, Person] = {}
    seen_ids: dict[str, Person] = {}
    seen_emails: dict[str, Person] = {}
    for node in _list(reader, top["people"][1], "people"):
        person = _person(reader, node)
        _unique(reader, node, seen_emails, person.email.lower(), person, "e-mail")
        for keyid in person.keys:
            _unique(reader, node, seen_keys, keyid, person, "key")
        for ident in person.identities:
            _unique(reader, node, seen_ids, ident.describe(), person, "identity")
        people.append(person)
    return People(tuple(people), where)


def people_of(trust: TrustRoot) -> People:
    """``policies/people.yaml`` as the trust source has it (a trust ref's, never the
    pull request's); nobody when it has none."""
    data = trust.people
    where = trust.where(PEOPLE_FILE.as_posix())
    return People((), where) if data is None else load_people(data, where)


def people_from_worktree(root: Path) -> People:
    """``policies/people.yaml`` of the working tree; nobody when the file is absent."""
    path = root / PEOPLE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return People((), PEOPLE_FILE.as_posix())
    except OSError as exc:
        raise ConfigError(f"cannot read people: {exc.strerror}", path=PEOPLE_FILE) from exc
    return load_people(data, PEOPLE_FILE.as_posix())


def _list(reader: NodeReader, node: Node, what: str) -> list[Node]:
    if is_null(node):
        return []
    if not hasattr(node, "value") or not isinstance(node.value, list) or _is_mapping(node):
        raise reader.fail(node, f"{what} must be a list", hint=HINT)
    return list(node.value)


def _is_mapping(node: Node) -> bool:
    from yaml.nodes import MappingNode

    return isinstance(node, MappingNode)


def _strings(reader: NodeReader, node: Node, what: str) -> tuple[str, ...]:
    values = [reader.string(item, what).strip() for item in _list(reader, node, what)]
    if any(not v for v in values):
        raise reader.fail(node, f"{what} must not contain empty strings")
    return tuple(dict.fromkeys(values))


def _person(reader: NodeReader, node: Node) -> Person:
    fields = reader.fields(node, PERSON_FIELDS, "a person")
    for required in ("name", "email"):
        if required not in fields:
            raise reader.fail(node, f"a person needs {required!r}", hint=HINT)
    name = reader.string(fields["name"][1], "name").strip()
    email = reader.string(fields["email"][1], "email").strip()
    if not name:
        raise reader.fail(fields["name"][1], "name must not be empty")
    if not EMAIL.match(email):
        raise reader.fail(fields["email"][1], f"{email!r} is not an e-mail address")
    roles = _strings(reader, fields["roles"][1], "roles") if "roles" in fields else ()
    keys: tuple[str, ...] = ()
    if "keys" in fields:
        keys = tuple(k.lower() for k in _strings(reader, fields["keys"][1], "keys"))
        bad = [k for k in keys if not KEYID.match(k)]
        if bad:
            raise reader.fail(
                fields["keys"][1],
                f"{bad[0]!r} is not a keyid (64 hex characters)",
                hint="copy the keyid `auditpipe keys list` prints",
            )
    identities: list[TrustedIdentity] = []
    if "identities" in fields:
        for item in _list(reader, fields["identities"][1], "identities"):
            got = reader.fields(item, IDENTITY_FIELDS, "an identity")
            if "identity" not in got or "issuer" not in got:
                raise reader.fail(
                    item,
                    "an identity needs both `identity` and `issuer`",
                    hint="a keyless signer is known by identity AND issuer, never by either alone",
                )
            values = {k: reader.string(v[1], k) for k, v in got.items()}
            identities.append(
                TrustedIdentity(
                    values["identity"],
                    values["issuer"],
                    values.get("repository"),
                    values.get("ref"),
                )
            )
    return Person(name, email, roles, keys, tuple(identities), line_of(node))


def _unique(
    reader: NodeReader,
    node: Node,
    seen: dict[str, Person],
    value: str,
    person: Person,
    what: str,
) -> None:
    other = seen.get(value)
    if other is not None:
        raise reader.fail(
            node,
            f"{what} {value} is listed for {other.name} (line {other.line}) and {person.name}",
            hint="a signer belongs to one person, or approvals could not be attributed",
        )
    seen[value] = person
