"""The ledger's leaves in append order, read from its first-parent history.

Each append commit names its entry in an ``Entry:`` trailer (``Ledger.append``
and sync's replay both write one); a commit without one is diffed against its
parent. The trailers are not believed on their own: the caller rebuilds the
head's ``entries/`` tree from exactly these ids and requires it to equal the
real one, so a commit that smuggles in a second entry, or claims one it did
not add twice, is caught. One read per commit keeps a full walk cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditpipe.ledger import layout
from auditpipe.ledger.gitstore import TREE_MODE, GitStore


@dataclass(frozen=True)
class Link:
    sha: bytes
    tree: bytes
    parent: bytes | None
    claimed: str | None
    """The entry id of the commit's ``Entry:`` trailer, if any."""


@dataclass(frozen=True)
class Walked:
    links: list[Link]
    """First-parent commits after ``stop``, oldest first."""
    reached_stop: bool
    root: bytes | None
    """The root commit, when the walk reached it."""


def commits_since(store: GitStore, head: bytes, stop: bytes | None) -> Walked:
    chain: list[Link] = []
    current: bytes | None = head
    root = None
    while current:
        if current == stop:
            chain.reverse()
            return Walked(chain, True, None)
        link = _link(store, current)
        chain.append(link)
        if link.parent is None:
            root = current
        current = link.parent
    chain.reverse()
    return Walked(chain, stop is None, root)


def _link(store: GitStore, sha: bytes) -> Link:
    _type, body = store.raw(sha)
    headers, _sep, message = body.partition(b"\n\n")
    tree = b""
    parent = None
    for line in headers.split(b"\n"):
        if line.startswith(b"tree "):
            tree = line[5:]
        elif line.startswith(b"parent ") and parent is None:
            parent = line[7:]
    claimed = None
    for line in message.split(b"\n"):
        if line.startswith(b"Entry: "):
            candidate = line[7:].strip().decode("ascii", "replace")
            if layout.ENTRY_ID.match(candidate):
                claimed = candidate
                break
    return Link(sha, tree, parent, claimed)


def added_ids(store: GitStore, link: Link, parent_tree: bytes | None) -> list[str]:
    """The entry ids a commit added: its trailer's, else its tree diff's."""
    if link.claimed is not None:
        return [link.claimed]
    old = _entries(store, parent_tree)
    return sorted(i for i in _entries(store, link.tree) if i not in old)


def entry_blobs(store: GitStore, tree: bytes, ids: list[str]) -> dict[str, bytes]:
    """entry id -> blob id in ``tree`` for those of ``ids`` present there."""
    found: dict[str, bytes] = {}
    for entry_id in ids:
        hit = store.lookup(tree, layout.entry_path(entry_id))
        if hit is not None:
            found[entry_id] = hit[1]
    return found


def _entries(store: GitStore, tree: bytes | None) -> set[str]:
    found: set[str] = set()
    if tree is None:
        return found
    for _bucket, mode, bucket_tree in store.children(tree, (layout.ENTRIES,)):
        if mode != TREE_MODE:
            continue
        for name in store.tree_items(bucket_tree):
            entry_id = layout.id_from_filename(name)
            if entry_id is not None:
                found.add(entry_id)
    return found
