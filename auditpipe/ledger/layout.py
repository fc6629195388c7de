"""Where things live on the ledger branch.

::

    entries/<id[:2]>/<id>.sigstore.json           the bundle, bytes exactly as written
    index/subject/<sha[:2]>/<sha>/<id>            subject digest -> entry ids (empty blobs)
    index/stage/<stage>/<id[:2]>/<id>             stage name -> entry ids
    index/kind/<kind>/<id[:2]>/<id>               entry kind (stage-run, promotion, approval, …)
    index/stage-key/<key[:2]>/<key>/<id>          a stage run's key -> runs (the planner's lookup)
    index/material/<sha[:2]>/<sha>/<id>           input digest -> runs that consumed it

``AREAS`` is the one table of what may appear at the top of the ledger tree:
each area's name, the shape of the paths below it, and (for areas that hold
entries) the entry kinds it may hold. ``verify`` rejects any other path; a new
area (checkpoints, cosignatures, approvals, reproductions) is one more row.

The index is derived data: every path in it is rebuilt from the entries by
``index_paths`` and checked by ``verify``; anything found through it is read
back from the entry it points to. Fan-out directories keep every tree an append
rewrites small, so appends cost the same at 10 or 10,000 entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditpipe.manifest.statement import SignedStatement

LEDGER_REF = b"refs/heads/auditpipe/ledger"
LEDGER_BRANCH = "auditpipe/ledger"
ENTRIES = b"entries"
INDEX = b"index"
ENTRY_SUFFIX = ".sigstore.json"
ENTRY_ID = re.compile(r"^[0-9a-f]{64}$")
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]{0,199}$")


@dataclass(frozen=True)
class Area:
    """One top-level folder of the ledger tree.

    ``holds`` is ``"entries"`` (signed bundles, one per append, each checked
    byte for byte) or ``"derived"`` (rebuilt from the entries and compared
    whole); ``kinds`` lists the entry kinds an entries area may hold.
    """

    name: bytes
    holds: str
    kinds: frozenset[str] = frozenset()


AREAS: dict[bytes, Area] = {
    ENTRIES: Area(
        ENTRIES,
        "entries",
        frozenset({"stage-run", "promotion", "checkpoint", "reproduction", "approval"}),
    ),
    INDEX: Area(INDEX, "derived"),
}

# Trailers an append's commit message may carry (``commit_message`` writes the
# first three; sync's replay adds the last). Each must agree with the entry.
COMMIT_TRAILERS = ("Entry", "Kind", "Stage", "Replayed-from")

# An entry larger than this is refused on append and reported by verify, which
# reads no further than its object header. Entries are a few KB (a stage run
# with a full package list ~20 KB); 16 MiB bounds the memory a hostile entry
# can take without ever refusing an honest one.
MAX_ENTRY_BYTES = 16 * 1024 * 1024


def entry_path(entry_id: str) -> tuple[bytes, ...]:
    return (ENTRIES, entry_id[:2].encode(), f"{entry_id}{ENTRY_SUFFIX}".encode())


def entry_path_str(entry_id: str) -> str:
    return "/".join(part.decode() for part in entry_path(entry_id))


def id_from_filename(name: bytes) -> str | None:
    """The entry id a file name under ``entries/xx/`` claims, or None if malformed."""
    text = name.decode("utf-8", "replace")
    if not text.endswith(ENTRY_SUFFIX):
        return None
    candidate = text[: -len(ENTRY_SUFFIX)]
    return candidate if ENTRY_ID.match(candidate) else None


def encode_component(name: str) -> bytes:
    """A stage or kind name as one safe path component (reversible)."""
    if _SAFE_COMPONENT.match(name):
        return name.encode()
    return b"~" + name.encode("utf-8").hex().encode()


def index_paths_for(entry_id: str, signed: SignedStatement) -> list[tuple[bytes, ...]]:
    """Every index path for a parsed statement: the one rule append, replay and
    verify all derive the index from."""
    return index_paths(
        entry_id,
        signed.kind,
        signed.stage,
        [s.sha256 for s in signed.statement.subject],
        signed.stage_key,
        signed.material_digests,
    )


def index_paths(
    entry_id: str,
    kind: str,
    stage: str | None,
    subjects: list[str],
    stage_key: str | None = None,
    materials: list[str] | None = None,
) -> list[tuple[bytes, ...]]:
    """Every index path that points at this entry."""
    bucket = entry_id[:2].encode()
    leaf = entry_id.encode()
    paths: list[tuple[bytes, ...]] = [(INDEX, b"kind", encode_component(kind), bucket, leaf)]
    if stage:
        paths.append((INDEX, b"stage", encode_component(stage), bucket, leaf))
    if stage_key and ENTRY_ID.match(stage_key):
        paths.append((INDEX, b"stage-key", stage_key[:2].encode(), stage_key.encode(), leaf))
    for digest in sorted(set(materials or [])):
        if ENTRY_ID.match(digest):
            paths.append((INDEX, b"material", digest[:2].encode(), digest.encode(), leaf))
    for digest in sorted(set(subjects)):
        if ENTRY_ID.match(digest):
            paths.append((INDEX, b"subject", digest[:2].encode(), digest.encode(), leaf))
    return paths


def entry_title(kind: str, stage: str | None) -> str:
    """The first line of the commit that appends an entry of this kind/stage."""
    return f"auditpipe: {kind} {stage}" if stage else f"auditpipe: {kind}"


def commit_message(entry_id: str, kind: str, stage: str | None) -> str:
    """The message of the commit that appends one entry (checked by ``verify``)."""
    lines = [entry_title(kind, stage), "", f"Entry: {entry_id}", f"Kind: {kind}"]
    if stage:
        lines.append(f"Stage: {stage}")
    return "\n".join(lines) + "\n"
