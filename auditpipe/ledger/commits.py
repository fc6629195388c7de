"""What an append commit's message may say: the entry it adds, and nothing else.

``log``, ``show`` and the reports never read commit messages; ``verify`` still
rejects a message that disagrees with the entry its commit adds, so that plain
``git log auditpipe/ledger`` cannot be made to tell a different story.

An append's message is ``layout.commit_message``: a title naming the kind and
stage, then the trailers ``Entry``, ``Kind`` and ``Stage``. Sync's replay keeps
that message and adds ``Replayed-from``, or (when the origin is unknown) writes
the title ``auditpipe: replayed entry`` with an ``Entry`` trailer.
"""

from __future__ import annotations

import re

from auditpipe.ledger import layout

REPLAYED_TITLE = "auditpipe: replayed entry"
_TRAILER = re.compile(r"^([A-Za-z-]+): (.*)$")
_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")


def named_entry(message: bytes) -> str | None:
    """The entry id a message's ``Entry:`` trailer names, if it names one."""
    for line in message.decode("utf-8", "replace").splitlines():
        if line.startswith("Entry: ") and layout.ENTRY_ID.match(line[7:].strip()):
            return line[7:].strip()
    return None


def message_defect(message: bytes, entry_id: str, kind: str, stage: str | None) -> str | None:
    """Why ``message`` disagrees with the entry its commit adds, or None."""
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        return "commit message is not UTF-8"
    lines = text.splitlines()
    if len(lines) < 3 or lines[1] != "":
        return "commit message is not an auditpipe append message"
    title = layout.entry_title(kind, stage)
    if lines[0] not in (title, REPLAYED_TITLE):
        return f"commit message title {lines[0]!r} disagrees with the entry ({title!r})"
    trailers: dict[str, str] = {}
    for line in lines[2:]:
        match = _TRAILER.match(line)
        if match is None or match.group(1) not in layout.COMMIT_TRAILERS:
            return f"commit message line {line!r} is not an auditpipe trailer"
        if match.group(1) in trailers:
            return f"commit message repeats the {match.group(1)} trailer"
        trailers[match.group(1)] = match.group(2)
    expected = {"Entry": entry_id, "Kind": kind, "Stage": stage}
    for key, value in trailers.items():
        if key == "Replayed-from":
            if not _COMMIT_ID.match(value):
                return "commit message's Replayed-from is not a commit id"
        elif value != expected[key]:
            return f"commit message says {key}: {value}, but the entry's is {expected[key]}"
    if "Entry" not in trailers:
        return "commit message names no entry"
    if lines[0] == title and (trailers.get("Kind") != kind or ("Stage" in trailers) != bool(stage)):
        return "commit message trailers disagree with the entry's kind and stage"
    return None
