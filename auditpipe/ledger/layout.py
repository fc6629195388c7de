"""Where things live on the ledger branch.

::

    entries/<id[:2]>/<id>.sigstore.json           the bundle, bytes exactly as written
    index/subject/<sha[:2]>/<sha>/<id>            subject digest -> entry ids (empty blobs)
    index/stage/<stage>/<id[:2]>/<id>             stage name -> entry ids
    index/kind/<kind>/<id[:2]>/<id>               stage-run | promotion | checkpoint | approval
    index/stage-key/<key[:2]>/<key>/<id>          a stage run's key -> runs (the planner's lookup)
    index/material/<sha[:2]>/<sha>/<id>           input digest -> runs that consumed it

The index is derived data: every path in it is rebuilt from the entries by
``index_paths`` and checked by ``verify``; anything found through it is read
back from the entry it points to. Fan-out directories keep every tree an append
rewrites small, so appends cost the same at 10 or 10,000 entries.
"""

from __future__ import annotations

import re
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
