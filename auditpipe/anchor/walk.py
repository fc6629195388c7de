"""The ledger's leaves in append order, read from its first-parent history.

Each append commit names its entry in an ``Entry:`` trailer; the trailer is
believed only when that entry is absent from the parent's tree and present in
the commit's, otherwise the commit's ``entries/`` tree is diffed against its
parent's. The caller then checks that the leaves are exactly the entries at
the head (``Anchor``), so a commit that smuggles in a second entry is caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditpipe.ledger import layout
from auditpipe.ledger.gitstore import TREE_MODE, GitStore


@dataclass(frozen=True)
class Walked:
    commits: list[bytes]
    """First-parent commits after ``stop``, oldest first."""
    reached_stop: bool
    root: bytes | None
    """The root commit, when the walk reached it."""


def commits_since(store: GitStore, head: bytes, stop: bytes | None) -> Walked:
    chain: list[bytes] = []
    current: bytes | None = head
    root = None
    while current:
        if current == stop:
            chain.reverse()
            return Walked(chain, True, None)
        chain.append(current)
        parents = store.commit_links(current)[1]
        if not parents:
            root = current
        current = parents[0] if parents else None
    chain.reverse()
    return Walked(chain, stop is None, root)


def added_entries(store: GitStore, commit: bytes) -> list[tuple[str, bytes]]:
    """(entry id, blob id) of each entry the commit added, in a stable order."""
    tree, parents = store.commit_links(commit)
    parent_tree = store.commit_links(parents[0])[0] if parents else None
    claimed = _trailer(store, commit)
    if claimed is not None:
        here = store.lookup(tree, layout.entry_path(claimed))
        before = store.lookup(parent_tree, layout.entry_path(claimed)) if parent_tree else None
        if here is not None and before is None:
            return [(claimed, here[1])]
    old = _entries(store, parent_tree)
    new = _entries(store, tree)
    return sorted((i, blob) for i, blob in new.items() if i not in old)


def _trailer(store: GitStore, commit: bytes) -> str | None:
    _type, body = store.raw(commit)
    _headers, _sep, message = body.partition(b"\n\n")
    for line in message.split(b"\n"):
        if line.startswith(b"Entry: "):
            candidate = line[7:].strip().decode("ascii", "replace")
            if layout.ENTRY_ID.match(candidate):
                return candidate
    return None


def _entries(store: GitStore, tree: bytes | None) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    if tree is None:
        return found
    for _bucket, mode, bucket_tree in store.children(tree, (layout.ENTRIES,)):
        if mode != TREE_MODE:
            continue
        for name, (_m, sha) in store.tree_items(bucket_tree).items():
            entry_id = layout.id_from_filename(name)
            if entry_id is not None:
                found[entry_id] = sha
    return found
