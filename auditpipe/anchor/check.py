"""``anchor``: the ledger at its head, checked against every checkpoint pinned for it.

Given the checkpoints a verifier holds (``Pin``: the working tree's lock, a
trust ref's lock, ...) and this clone's anchor state, it

1. reads the leaves appended since the state's head (all of them in a fresh clone),
2. checks that the head's ``entries/`` tree is exactly the verified one plus
   those entries, and that its ``index/`` tree is exactly the one rebuilt from
   them (so a removed index path, a run hidden from lookups, is named),
3. proves, with an RFC 9162 consistency proof, that every pinned checkpoint is
   a prefix of the ledger,

and on success records the new state. Any failure raises ``VerificationFailed``
naming the checkpoint, its size and the entries or paths that differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditpipe.anchor.state import AnchorState, read_state, write_state
from auditpipe.anchor.walk import Walked, added_ids, commits_since, entry_blobs
from auditpipe.errors import Error, UntrustedSigner, VerificationFailed
from auditpipe.ledger import layout
from auditpipe.ledger.gitstore import GitStore
from auditpipe.ledger.trees import EMPTY_BLOB, Overlay, diff_paths
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.interface import Verifier
from auditpipe.transparency.checkpoint import Checkpoint, origin_for
from auditpipe.transparency.merkle import Tree, verify_consistency

MAX_KNOWN = 64
PUSH_HINT = (
    "if these are your own entries that are not on the shared ledger yet: push the ledger, "
    "then commit auditpipe.lock (`auditpipe ledger push` re-issues its checkpoint); otherwise "
    "the ledger was rewritten below the checkpoint: restore refs/heads/auditpipe/ledger from a "
    "clone that still holds it, and protect the branch against force-pushes"
)


@dataclass(frozen=True)
class Pin:
    """A checkpoint the ledger must extend, and where the verifier got it."""

    source: str
    checkpoint: Checkpoint
    entries: tuple[str, ...] = ()
    """Entry ids the source names (a lock's stage runs), reported if missing."""


@dataclass(frozen=True)
class Anchored:
    checkpoint: Checkpoint | None
    """The checkpoint over the current head (None: no ledger branch)."""
    head: str | None
    appended: int
    """Entries checked in this call (appended since the last anchored state)."""
    pins: tuple[str, ...] = ()


def anchor(
    store: GitStore,
    pins: Sequence[Pin] = (),
    *,
    record: bool = True,
    use_state: bool = True,
    verifier: Verifier | None = None,
) -> Anchored:
    """Check the ledger against ``pins`` and this clone's state (see the module doc);
    ``use_state=False`` walks the whole ledger as a fresh clone would; with a
    ``verifier``, the appended entries' signatures are checked too."""
    state_dir = store.workspace.state_dir
    head = store.head()
    loaded = read_state(state_dir) if use_state else None
    if head is None:
        if pins or loaded:
            held = [p.source for p in pins] + (["this clone's anchor"] if loaded else [])
            raise VerificationFailed(
                "the ledger branch is gone, but checkpoints pin it",
                problems=[f"pinned by {h}" for h in held],
                hint=PUSH_HINT,
            )
        return Anchored(None, None, 0)
    state, base = loaded if loaded else (None, [])
    walked = commits_since(store, head, state.head.encode() if state else None)
    if state is not None and not walked.reached_stop:
        _rewritten_below_state(store, head, state, base)
    origin = state.origin if state else origin_for((walked.root or head).decode())
    problems: list[str] = []
    head_tree = store.commit_links(head)[0]
    ids = _leaf_ids(store, walked, state.head.encode() if state else None)
    blobs = entry_blobs(store, head_tree, ids)
    added: list[tuple[str, bytes]] = []
    leaves = list(base)
    seen = set(base)
    for entry_id in ids:
        raw = bytes.fromhex(entry_id)
        if raw in seen:
            problems.append(f"entry {entry_id} is appended twice")
        seen.add(raw)
        leaves.append(raw)
        blob = blobs.get(entry_id)
        if blob is None:
            problems.append(
                f"entries/{entry_id[:2]}/{entry_id}{layout.ENTRY_SUFFIX}: an "
                "appended entry is gone from the ledger head"
            )
        else:
            added.append((entry_id, blob))
    overlay = Overlay(store)
    head_root = store.tree_items(head_tree)
    _check_tree(
        overlay,
        "entries",
        state.entries_tree if state else None,
        {layout.entry_path(i)[1:]: blob for i, blob in added},
        head_root,
        problems,
    )
    _check_tree(
        overlay,
        "index",
        state.index_tree if state else None,
        _index_paths(store, added, problems, verifier),
        head_root,
        problems,
    )
    tree = (
        Tree(leaves, [bytes.fromhex(h) for h in state.frontier], state.size)
        if state
        else Tree(leaves)
    )
    current = Checkpoint(origin, len(leaves), tree.root())
    known = {int(k): v for k, v in state.known.items()} if state else {}
    if state:
        known[state.size] = state.root
    for pin in pins:
        problems.extend(_check_pin(pin, current, tree, known, leaves))
    if problems:
        raise VerificationFailed(
            "the ledger does not match what is pinned for it", problems=problems, hint=PUSH_HINT
        )
    if record:
        known = dict(sorted(known.items())[-MAX_KNOWN:])
        write_state(
            state_dir,
            AnchorState(
                origin=origin,
                head=head.decode(),
                size=current.size,
                root=current.root.hex(),
                frontier=[h.hex() for h in tree.frontier()],
                entries_tree=_sub(head_root, layout.ENTRIES),
                index_tree=_sub(head_root, layout.INDEX),
                known=known,
            ),
            leaves,
        )
    return Anchored(current, head.decode(), len(added), tuple(p.source for p in pins))


def _leaf_ids(store: GitStore, walked: Walked, stop: bytes | None) -> list[str]:
    ids: list[str] = []
    parent_tree = store.commit_links(stop)[0] if stop else None
    for link in walked.links:
        ids.extend(added_ids(store, link, parent_tree))
        parent_tree = link.tree
    return ids


def _sub(root: dict[bytes, tuple[int, bytes]], name: bytes) -> str | None:
    found = root.get(name)
    return found[1].decode() if found else None


def _check_tree(
    overlay: Overlay,
    name: str,
    base: str | None,
    additions: dict[tuple[bytes, ...], bytes],
    head_root: dict[bytes, tuple[int, bytes]],
    problems: list[str],
) -> None:
    expected = overlay.build(base.encode() if base else None, additions)
    found = head_root.get(name.encode())
    actual = found[1] if found else None
    if expected == actual:
        return
    what = "the entries" if name == "entries" else "the index rebuilt from the entries"
    for diff in diff_paths(overlay, expected, actual):
        verb, path = diff.split(" ", 1)
        if name == "entries":
            detail = (
                "an appended entry is gone or changed"
                if verb == "missing"
                else ("a file no append commit added")
            )
        else:
            detail = (
                "a path the entries imply is absent (a run hidden from lookups)"
                if verb == "missing"
                else "a path no entry implies"
            )
        problems.append(f"{name}/{path}: {detail}; the ledger head differs from {what}")


def _index_paths(
    store: GitStore,
    added: list[tuple[str, bytes]],
    problems: list[str],
    verifier: Verifier | None,
) -> dict[tuple[bytes, ...], bytes]:

    paths: dict[tuple[bytes, ...], bytes] = {}
    for entry_id, blob in added:
        try:
            bundle = parse_bundle(store.blob(blob))
            if bundle.id != entry_id:
                problems.append(f"entry {entry_id}: its payload hashes to {bundle.id}")
                continue
            signed = SignedStatement.parse(bundle.payload, require_canonical=False)
        except Error as exc:
            problems.append(f"entry {entry_id} cannot be read: {exc.message}")
            continue
        for path in layout.index_paths_for(entry_id, signed):
            paths[path[1:]] = EMPTY_BLOB
        if verifier is not None:
            try:
                verifier.verify(bundle)
            except UntrustedSigner:
                pass  # valid history by a signer we do not know: listed elsewhere, no failure
            except Error as exc:
                problems.append(f"entry {entry_id}: {exc.message}")
    return paths


def _check_pin(
    pin: Pin, current: Checkpoint, tree: Tree, known: dict[int, str], leaves: list[bytes]
) -> list[str]:
    cp = pin.checkpoint
    where = f"{pin.source}: {cp.describe()}"
    if cp.origin != current.origin:
        return [f"{where} is for ledger {cp.origin}, not this one ({current.origin})"]
    present = set(leaves)
    missing = [i for i in pin.entries if bytes.fromhex(i) not in present]
    named = [f"  entry {i} (named by {pin.source}) is not on the ledger" for i in missing]
    if cp.size > current.size:
        gone = cp.size - current.size
        return [
            f"{where}, but the ledger has only {current.size}: {gone} pinned "
            f"entr{'y is' if gone == 1 else 'ies are'} missing (truncated or rewritten)",
            *named,
        ]
    if known.get(cp.size) == cp.root.hex():
        return []  # proved consistent with this clone's state before, which the head extends
    proof = tree.consistency_proof(cp.size)
    if verify_consistency(cp.size, current.size, cp.root, current.root, proof):
        known[cp.size] = cp.root.hex()
        return []
    return [
        f"{where} is not a prefix of the ledger ({current.size} entries): entries below it "
        "were removed, changed or reordered",
        *named,
    ]


def _rewritten_below_state(
    store: GitStore, head: bytes, state: AnchorState, base: list[bytes]
) -> None:
    now = [bytes.fromhex(i) for i in _leaf_ids(store, commits_since(store, head, None), None)]
    present = set(now)
    missing = [leaf.hex() for leaf in base if leaf not in present]
    moved = [
        f"position {n}: {old.hex()} is now {new.hex()}"
        for n, (old, new) in enumerate(zip(base, now, strict=False))
        if old != new and old in present
    ][:20]
    raise VerificationFailed(
        f"the ledger was rewritten below this clone's last verified checkpoint of {state.size} "
        f"entries (root {state.root[:12]}, head {state.head[:12]}): its head no longer "
        "descends from it",
        problems=[f"entry {i} is missing" for i in missing] + moved,
        hint="restore refs/heads/auditpipe/ledger from a clone that still holds it; if you "
        "rewrote it on purpose, remove .git/auditpipe/anchor.json",
    )
