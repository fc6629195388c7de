"""RFC 6962 / 9162 Merkle trees: known vectors, and every consistency proof on random leaves."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from auditpipe.transparency.merkle import (
    EMPTY_ROOT,
    Tree,
    leaf_hash,
    node_hash,
    verify_consistency,
)

leaves_st = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40)


def reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, literally."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def test_small_trees_match_the_rfc_definition() -> None:
    a, b, c = b"a" * 32, b"b" * 32, b"c" * 32
    assert Tree([]).root() == EMPTY_ROOT
    assert Tree([a]).root() == leaf_hash(a)
    assert Tree([a, b, c]).root() == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))


@given(leaves_st)
def test_root_matches_reference(leaves: list[bytes]) -> None:
    assert Tree(leaves).root() == reference_mth(leaves)


@settings(max_examples=60)
@given(leaves_st)
def test_every_consistency_proof_verifies(leaves: list[bytes]) -> None:
    tree = Tree(leaves)
    for n in range(1, len(leaves) + 1):
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            assert verify_consistency(m, n, tree.root(m), tree.root(n), proof), (m, n)


@settings(max_examples=60)
@given(leaves_st, st.data())
def test_tampered_proofs_and_roots_fail(leaves: list[bytes], data: st.DataObject) -> None:
    tree = Tree(leaves)
    n = len(leaves)
    m = data.draw(st.integers(1, n))
    proof = tree.consistency_proof(m, n)
    old, new = tree.root(m), tree.root(n)
    bad = hashlib.sha256(b"bad").digest()
    if m < n:
        assert not verify_consistency(m, n, bad, new, proof)
        assert not verify_consistency(m, n, old, bad, proof)
        i = data.draw(st.integers(0, len(proof) - 1))
        flipped = bytes([proof[i][0] ^ 1]) + proof[i][1:]
        assert not verify_consistency(m, n, old, new, [*proof[:i], flipped, *proof[i + 1 :]])
        assert not verify_consistency(m, n, old, new, proof[:-1])
        assert not verify_consistency(m, n, old, new, [*proof, bad])
    else:
        assert not verify_consistency(m, n, bad, new, proof)


@given(leaves_st, st.data())
def test_a_changed_leaf_breaks_consistency(leaves: list[bytes], data: st.DataObject) -> None:
    """A ledger rewritten below the checkpoint cannot produce a proof for it."""
    n = len(leaves)
    m = data.draw(st.integers(1, n))
    i = data.draw(st.integers(0, m - 1))
    old_root = Tree(leaves).root(m)
    rewritten = [*leaves[:i], hashlib.sha256(leaves[i]).digest(), *leaves[i + 1 :]]
    tree = Tree(rewritten)
    assert not verify_consistency(m, n, old_root, tree.root(n), tree.consistency_proof(m, n))


@given(leaves_st, st.data())
def test_a_frontier_continues_the_tree(leaves: list[bytes], data: st.DataObject) -> None:
    s = data.draw(st.integers(0, len(leaves)))
    full = Tree(leaves)
    # the seeded tree never needs the leaves before s: give it garbage there
    seeded = Tree([b"\xff" * 32] * s + leaves[s:], full.frontier(s), s)
    assert seeded.root() == full.root()
    assert seeded.consistency_proof(s) == full.consistency_proof(s)
