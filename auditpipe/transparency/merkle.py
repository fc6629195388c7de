"""RFC 6962 Merkle tree hashes and RFC 9162 consistency proofs (generate + verify).

Leaves are 32-byte entry ids; ``leaf_hash`` is ``SHA-256(0x00 || id)`` and an
interior node ``SHA-256(0x01 || left || right)`` (RFC 6962 section 2.1).

Written here rather than taken from PyPI: sigstore-python only verifies
*inclusion* proofs (in a private module), and no well-kept package offers RFC
9162 consistency proof generation and verification; the algorithms are short
and are property-tested against each other in ``tests/unit/transparency``.

``Tree`` computes subtree hashes lazily and memoizes them, and can be seeded
with a *frontier* (the hashes of the perfect subtrees that make up the first
``size`` leaves, largest first), so a verifier that kept the frontier of a
checkpoint hashes only the leaves appended after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def frontier_ranges(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees (start, length) that make up ``[0, size)``, largest first."""
    ranges, start = [], 0
    for bit in reversed(range(size.bit_length())):
        if size & (1 << bit):
            ranges.append((start, 1 << bit))
            start += 1 << bit
    return ranges


class Tree:
    """The Merkle tree over a sequence of leaves (raw bytes, hashed on demand)."""

    def __init__(
        self,
        leaves: Sequence[bytes],
        frontier: Sequence[bytes] = (),
        frontier_size: int = 0,
    ) -> None:
        self._leaves = leaves
        self._cache: dict[tuple[int, int], bytes] = {}
        ranges = frontier_ranges(frontier_size)
        if len(ranges) != len(frontier):
            raise ValueError(f"a frontier of size {frontier_size} has {len(ranges)} hashes")
        for span, digest in zip(ranges, frontier, strict=True):
            self._cache[span] = digest

    @property
    def size(self) -> int:
        return len(self._leaves)

    def hash(self, start: int, length: int) -> bytes:
        """MTH of ``leaves[start:start + length]``."""
        if length == 0:
            return EMPTY_ROOT
        key = (start, length)
        found = self._cache.get(key)
        if found is not None:
            return found
        if length == 1:
            digest = leaf_hash(self._leaves[start])
        else:
            k = _split(length)
            digest = node_hash(self.hash(start, k), self.hash(start + k, length - k))
        if length & (length - 1) == 0:  # keep perfect subtrees only: bounded memory
            self._cache[key] = digest
        return digest

    def root(self, size: int | None = None) -> bytes:
        return self.hash(0, self.size if size is None else size)

    def frontier(self, size: int | None = None) -> list[bytes]:
        """The hashes to seed a later ``Tree`` that continues from ``size`` leaves."""
        return [self.hash(s, n) for s, n in frontier_ranges(self.size if size is None else size)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 section 2.1.4.1: PROOF(m, D[0:n])."""
        n = self.size if new_size is None else new_size
        if not 0 <= old_size <= n <= self.size:
            raise ValueError(f"no consistency proof from {old_size} to {n} leaves")
        if old_size in (0, n):
            return []
        return self._subproof(old_size, 0, n, True)

    def _subproof(self, m: int, start: int, n: int, complete: bool) -> list[bytes]:
        if m == n:
            return [] if complete else [self.hash(start, n)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, k, complete), self.hash(start + k, n - k)]
        return [*self._subproof(m - k, start + k, n - k, False), self.hash(start, k)]


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: does ``proof`` show the tree of ``old_size`` leaves
    with ``old_root`` is a prefix of the tree of ``new_size`` leaves with ``new_root``?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
