"""C2SP signed notes and checkpoints: round trips, and no malformed note slips through."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from auditpipe.errors import ManifestError
from auditpipe.signing.keys import keyid_of
from auditpipe.transparency.checkpoint import Checkpoint, origin_for, parse_checkpoint
from auditpipe.transparency.note import SignedNote, parse_note, sign_note, verify_note

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
KEYS = {keyid_of(KEY.public_key()): KEY.public_key()}


def _note(size: int = 3) -> tuple[str, Checkpoint]:
    cp = Checkpoint(origin_for("a" * 40), size, bytes(range(32)))
    note = SignedNote(cp.body(), (sign_note(cp.body(), cp.origin, KEY),))
    return note.render(), cp


def test_round_trip_and_verify() -> None:
    text, cp = _note()
    note = parse_note(text)
    assert parse_checkpoint(note.text) == cp
    assert verify_note(note, cp.origin, KEYS) == list(KEYS)
    assert note.signatures[0].key_id.hex() == keyid_of(KEY.public_key())[:8]


def test_wrong_key_or_name_or_text_does_not_verify() -> None:
    text, cp = _note()
    note = parse_note(text)
    assert verify_note(note, cp.origin, {keyid_of(OTHER.public_key()): OTHER.public_key()}) == []
    assert verify_note(note, "someone-else", KEYS) == []
    edited = parse_note(text.replace("\n3\n", "\n4\n", 1))
    assert verify_note(edited, cp.origin, KEYS) == []


@given(st.text(max_size=300))
def test_parser_never_crashes(data: str) -> None:
    try:
        note = parse_note(data)
    except ManifestError:
        return
    assert note.render() == data


@given(st.integers(0, 10**6), st.data())
def test_truncated_or_edited_notes_fail_cleanly(size: int, data: st.DataObject) -> None:
    text, cp = _note(size)
    cut = data.draw(st.integers(0, 10**6)) % len(text)  # signatures vary in length
    for candidate in (text[:cut], text[:cut] + "x" + text[cut + 1 :]):
        try:
            note = parse_note(candidate)
            parsed = parse_checkpoint(note.text)
        except ManifestError:
            continue
        if verify_note(note, cp.origin, KEYS):
            assert parsed == cp  # only an untouched body still verifies


@pytest.mark.parametrize(
    "body",
    [
        "",
        "origin\n",
        "origin\n-1\nAAAA\n",
        "origin\n01\n" + "A" * 44 + "\n",
        "o\n1\n!!\n",
        "o r\n1\n" + "A" * 43 + "=\n",
        "o\n1\n" + "A" * 43 + "=\nextra\n",
    ],
)
def test_bad_checkpoint_bodies(body: str) -> None:
    with pytest.raises(ManifestError):
        parse_checkpoint(body)
