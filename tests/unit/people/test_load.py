"""``policies/people.yaml``: people from bytes, every mistake with its file and line."""

from __future__ import annotations

import pytest

from auditpipe.errors import ConfigError
from auditpipe.people import load_people
from auditpipe.signing.interface import SignerIdentity

K1, K2 = "a" * 64, "b" * 64

GOOD = f"""\
people:
  - name: Alice Ng
    email: Alice@Bank.example
    roles: [approver]
    keys: [{K1}]
  - name: Bob Roy
    email: bob@bank.example
    roles: [validator]
    keys: [{K2}]
    identities:
      - {{identity: bob@bank.example, issuer: https://accounts.google.com}}
""".encode()


def test_people_are_found_by_key_identity_and_email() -> None:
    people = load_people(GOOD, "policies/people.yaml")
    assert [p.name for p in people] == ["Alice Ng", "Bob Roy"]
    assert people.by_keyid(K1) is not None and people.by_keyid(K1).name == "Alice Ng"
    assert people.by_email("alice@bank.EXAMPLE").name == "Alice Ng"  # type: ignore[union-attr]
    keyless = SignerIdentity(
        kind="sigstore", identity="bob@bank.example", issuer="https://accounts.google.com"
    )
    assert people.name_of(keyless) == "Bob Roy <bob@bank.example>"
    assert people.name_of(SignerIdentity(kind="key", keyid="c" * 64)).startswith("unlisted key")
    assert people.by_keyid(K2).holds("validator")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("people:\n  - name: A\n", 2, "a person needs 'email'"),
        ("people:\n  - name: A\n    email: nope\n", 3, "is not an e-mail address"),
        ("people:\n  - name: A\n    email: a@x.io\n    keys: [abc]\n", 4, "is not a keyid"),
        ("people:\n  - name: A\n    email: a@x.io\n    role: [x]\n", 4, "unknown key 'role'"),
        (
            "people:\n  - {name: A, email: a@x.io}\n  - {name: B, email: A@X.io}\n",
            3,
            "e-mail a@x.io is listed for A (line 2) and B",
        ),
        (
            f"people:\n  - {{name: A, email: a@x.io, keys: [{K1}]}}\n"
            f"  - {{name: B, email: b@x.io, keys: [{K1}]}}\n",
            3,
            "is listed for A (line 2) and B",
        ),
        (
            "people:\n  - name: A\n    email: a@x.io\n    identities: [{identity: a}]\n",
            4,
            "needs both `identity` and `issuer`",
        ),
        ("people: [\n", 2, "invalid YAML"),
    ],
)
def test_bad_people_files_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_people(text.encode(), "policies/people.yaml")
    assert caught.value.path == "policies/people.yaml"
    assert caught.value.line == line
    assert message in caught.value.message
