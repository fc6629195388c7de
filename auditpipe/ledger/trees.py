"""Git tree ids computed without writing objects, and the paths two trees differ in.

The expected ``entries/`` and ``index/`` trees are rebuilt from a verified base
plus the paths of newly appended entries; equal tree ids prove the whole
subtree equal, and on a difference ``diff_paths`` names every path that is
missing or extra.
"""

from __future__ import annotations

import hashlib
from binascii import a2b_hex
from collections.abc import Iterator, Mapping

from auditpipe.ledger.gitstore import FILE_MODE, TREE_MODE, GitStore

Path_ = tuple[bytes, ...]
Items = dict[bytes, tuple[int, bytes]]


class Overlay:
    """Trees built in memory on top of the repository's (hex ids, like dulwich's)."""

    def __init__(self, store: GitStore) -> None:
        self.store = store
        self.made: dict[bytes, Items] = {}

    def items(self, tree: bytes) -> Items:
        found = self.made.get(tree)
        return found if found is not None else self.store.tree_items(tree)

    def build(self, base: bytes | None, additions: Mapping[Path_, bytes]) -> bytes | None:
        """The id of ``base`` plus blobs at ``additions``; None for an empty tree."""
        items: Items = dict(self.items(base)) if base is not None else {}
        groups: dict[bytes, dict[Path_, bytes]] = {}
        for path, blob in additions.items():
            if len(path) == 1:
                items[path[0]] = (FILE_MODE, blob)
            else:
                groups.setdefault(path[0], {})[path[1:]] = blob
        for name, sub in groups.items():
            existing = items.get(name)
            child = existing[1] if existing and existing[0] == TREE_MODE else None
            built = self.build(child, sub)
            if built is not None:
                items[name] = (TREE_MODE, built)
        if not items:
            return None
        sha = _tree_id(items)
        self.made[sha] = items
        return sha


def diff_paths(overlay: Overlay, expected: bytes | None, actual: bytes | None) -> Iterator[str]:
    """``missing PATH`` / ``unexpected PATH`` for every file that differs."""
    yield from _diff(overlay, expected, actual, "")


def _diff(overlay: Overlay, a: bytes | None, b: bytes | None, prefix: str) -> Iterator[str]:
    if a == b:
        return
    left = overlay.items(a) if a else {}
    right = overlay.items(b) if b else {}
    for name in sorted(set(left) | set(right)):
        x, y = left.get(name), right.get(name)
        if x == y:
            continue
        path = prefix + name.decode("utf-8", "replace")
        x_tree = x[1] if x and x[0] == TREE_MODE else None
        y_tree = y[1] if y and y[0] == TREE_MODE else None
        if x_tree or y_tree:
            yield from _diff(overlay, x_tree, y_tree, path + "/")
            if x and not x_tree:
                yield f"missing {path}"
            if y and not y_tree:
                yield f"unexpected {path}"
        else:
            if x:
                yield f"missing {path}"
            if y:
                yield f"unexpected {path}"


def _tree_id(items: Items) -> bytes:
    def order(name: bytes) -> bytes:
        return name + b"/" if items[name][0] == TREE_MODE else name

    body = b"".join(
        b"%o %s\0" % (items[n][0], n) + a2b_hex(items[n][1]) for n in sorted(items, key=order)
    )
    raw = b"tree %d\0%s" % (len(body), body)
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest().encode()


EMPTY_BLOB = hashlib.sha1(b"blob 0\0", usedforsecurity=False).hexdigest().encode()
