"""Check the whole ledger branch: append-only history, ids, signatures, trust, index.

``verify_ledger`` walks every commit from the root to the head and reports every
violation it finds (it does not stop at the first):

- a commit that modifies or deletes an entry, or adds a misplaced file;
- a merge commit (the ledger history is linear; sync replays, never merges);
- an entry whose payload does not hash to its id, that does not parse, whose
  statement is invalid, or whose signature is invalid;
- an index that differs from the one rebuilt from the entries;
- a head that does not descend from the last head this clone verified
  (rollback, or a force-moved ref).

Signer trust is a separate question: an entry by a signer the trust set does
not know is valid history, listed in ``VerifyReport.untrusted``, not a problem
(any writer could otherwise stop every sync).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dulwich.errors import ObjectFormatException
from dulwich.objects import Blob, ObjectID, Tree, parse_tree

from auditpipe.errors import Error, UntrustedSigner
from auditpipe.ledger import layout
from auditpipe.ledger.gitstore import FILE_MODE, TREE_MODE, GitStore
from auditpipe.ledger.state import read_verified_head, write_verified_head
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.interface import Verifier


@dataclass(frozen=True)
class Problem:
    message: str
    entry: str | None = None
    commit: str | None = None

    def describe(self) -> str:
        where = f"entry {self.entry}: " if self.entry else ""
        at = f" (commit {self.commit[:12]})" if self.commit else ""
        return f"{where}{self.message}{at}"


@dataclass(frozen=True)
class Untrusted:
    """An entry signed by someone the trust set does not know: evidence that never counts."""

    entry: str
    signer: str
    message: str


@dataclass
class VerifyReport:
    head: str | None
    entries: int = 0
    commits: int = 0
    signers: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    untrusted: list[Untrusted] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


Progress = Callable[[int, int], None]


def verify_ledger(
    store: GitStore,
    verifier: Verifier,
    *,
    record: bool = True,
    progress: Progress | None = None,
) -> VerifyReport:
    """Verify the ledger; on success (and ``record``) remember the head as verified."""
    state_dir = store.workspace.state_dir
    last = read_verified_head(state_dir)
    head = store.head()
    report = VerifyReport(head=head.decode() if head else None)
    if head is None:
        if last is not None:
            report.problems.append(
                Problem(f"the ledger branch is gone; this clone last verified {last.decode()}")
            )
        return report

    chain = _first_parent_chain(store, head, report)
    if last is not None and last not in {link.sha for link in chain}:
        report.problems.append(
            Problem(
                f"head {head.decode()[:12]} does not descend from the last head this clone "
                f"verified ({last.decode()[:12]}): the ledger was rolled back or rewritten"
            )
        )
    buckets = _check_history(store, chain, report)
    _check_entries(store, verifier, buckets, chain[0], report, progress)
    if report.ok and record:
        write_verified_head(state_dir, head)
    return report


@dataclass(frozen=True)
class _Link:
    sha: bytes
    tree: bytes
    parents: list[bytes]

    @property
    def hex(self) -> str:
        return self.sha.decode()


def _first_parent_chain(store: GitStore, head: bytes, report: VerifyReport) -> list[_Link]:
    chain: list[_Link] = []
    current: bytes | None = head
    while current:
        tree, parents = store.commit_links(current)
        link = _Link(current, tree, parents)
        if len(parents) > 1:
            report.problems.append(
                Problem("merge commit on the ledger (history must be linear)", commit=link.hex)
            )
        chain.append(link)
        current = parents[0] if parents else None
    report.commits = len(chain)
    return chain


def _check_history(store: GitStore, chain: list[_Link], report: VerifyReport) -> dict[bytes, bytes]:
    """Walk root -> head; return the head's entry bucket map (name -> tree id).

    Between two commits only the fan-out records that differ are parsed: the
    entries tree's records all have one width, so the changed ones are found by
    comparing raw bytes (a common prefix and suffix), not by parsing 256
    records per commit. Anything irregular falls back to a full comparison.
    """
    prev_entries: bytes | None = None
    prev_raw = b""
    for link in reversed(chain):
        root = store.tree_items(link.tree)
        for name, (mode, _sha) in root.items():
            if name not in (layout.ENTRIES, layout.INDEX) or mode != TREE_MODE:
                report.problems.append(
                    Problem(f"unexpected path {name.decode()!r} at top level", commit=link.hex)
                )
        found = root.get(layout.ENTRIES)
        entries_sha = found[1] if found else None
        if entries_sha == prev_entries:
            continue
        raw = _raw_tree(store, entries_sha)
        old, new = _changed_records(prev_raw, raw)
        for name in set(old) | set(new):
            if old.get(name) != new.get(name):
                _diff_bucket(store, name, old.get(name), new.get(name), link, report)
        prev_entries, prev_raw = entries_sha, raw
    return _records(prev_raw)


_BUCKET_RECORD = len(b"40000 ab\0") + 20  # mode, two-hex-digit name, binary sha


def _raw_tree(store: GitStore, sha: bytes | None) -> bytes:
    if sha is None:
        return b""
    type_num, body = store.raw(sha)
    return body if type_num == 2 else b""


def _records(raw: bytes) -> dict[bytes, bytes]:
    try:
        return {name: bytes(sha) for name, _mode, sha in parse_tree(raw, 20)}
    except ObjectFormatException:
        return {}


def _changed_records(old: bytes, new: bytes) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    """The records that differ between two entries trees, as name -> tree id maps."""
    width = _BUCKET_RECORD
    if len(old) % width or len(new) % width:
        return _records(old), _records(new)
    a, b = old, new  # bytes slices compare with memcmp (memoryview compares per item)
    limit = min(len(a), len(b))
    lo, hi = 0, limit  # longest common prefix, by bisection on C-level compares
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if a[:mid] == b[:mid] else (lo, mid - 1)
    prefix = lo
    lo, hi = 0, limit - prefix
    while lo < hi:
        mid = (lo + hi + 1) // 2
        same = a[len(a) - mid :] == b[len(b) - mid :]
        lo, hi = (mid, hi) if same else (lo, mid - 1)
    start = prefix // width * width
    tail = lo // width * width
    return _records(old[start : len(old) - tail]), _records(new[start : len(new) - tail])


def _diff_bucket(
    store: GitStore,
    bucket: bytes,
    old: bytes | None,
    new: bytes | None,
    link: _Link,
    report: VerifyReport,
) -> None:
    before = _items(store, old)
    after = _items(store, new)
    for name, (_mode, sha) in before.items():
        now = after.get(name)
        if now is not None and now[1] == sha:
            continue
        entry = layout.id_from_filename(name) or name.decode("utf-8", "replace")
        what = "entry deleted" if now is None else "entry modified"
        report.problems.append(Problem(what, entry=entry, commit=link.hex))
    for name, (mode, _sha) in after.items():
        if name in before:
            continue
        entry_id = layout.id_from_filename(name)
        if entry_id is None or entry_id[:2].encode() != bucket or mode != FILE_MODE:
            report.problems.append(
                Problem(
                    f"misplaced file entries/{bucket.decode()}/{name.decode('utf-8', 'replace')}",
                    commit=link.hex,
                )
            )


def _items(store: GitStore, tree_id: bytes | None) -> dict[bytes, tuple[int, bytes]]:
    if tree_id is None:
        return {}
    try:
        return store.tree_items(tree_id)
    except Error:
        return {}


def _check_entries(
    store: GitStore,
    verifier: Verifier,
    buckets: dict[bytes, bytes],
    head: _Link,
    report: VerifyReport,
    progress: Progress | None,
) -> None:
    expected_index: dict[tuple[bytes, ...], bytes] = {}
    files = [
        (name, sha)
        for bucket in sorted(buckets)
        for name, (_m, sha) in sorted(_items(store, buckets[bucket]).items())
    ]
    total = len(files)
    for done, (name, sha) in enumerate(files, 1):
        if progress is not None and (done % 256 == 0 or done == total):
            progress(done, total)
        entry_id = layout.id_from_filename(name)
        if entry_id is None:
            continue  # already reported as misplaced
        report.entries += 1
        try:
            bundle = parse_bundle(store.blob(sha))
        except Error as exc:
            report.problems.append(Problem(f"malformed bundle: {exc.message}", entry=entry_id))
            continue
        if bundle.id != entry_id:
            report.problems.append(
                Problem(f"payload hashes to {bundle.id}, not to the entry's id", entry=entry_id)
            )
            continue
        try:
            # Appends enforce RFC 8785 form; here the signature over the stored
            # bytes is what counts, so re-canonicalizing every entry is skipped.
            signed = SignedStatement.parse(bundle.payload, require_canonical=False)
        except Error as exc:
            signed = None
            report.problems.append(Problem(f"invalid statement: {exc.message}", entry=entry_id))
        if signed is not None:
            # The index is derived from every readable entry, trusted or not, so
            # an untrusted signature is reported once, as what it is.
            for path in layout.index_paths_for(entry_id, signed):
                expected_index[path[1:]] = EMPTY_BLOB_ID
        try:
            identity = verifier.verify(bundle)
        except UntrustedSigner as exc:
            report.untrusted.append(Untrusted(entry_id, exc.signer, exc.message))
            continue
        except Error as exc:
            report.problems.append(Problem(exc.message, entry=entry_id))
            continue
        label = identity.keyid or identity.identity or "unknown"
        report.signers[label] = report.signers.get(label, 0) + 1
    found = store.tree_items(head.tree).get(layout.INDEX)
    actual = found[1] if found else None
    expected = _tree_id(expected_index) if expected_index else None
    if actual != expected:
        report.problems.append(
            Problem("the index does not match the entries it is derived from", commit=head.hex)
        )


EMPTY_BLOB_ID = Blob.from_string(b"").id


def _tree_id(paths: dict[tuple[bytes, ...], bytes]) -> bytes:
    """The id git would give a tree holding ``paths`` (computed, not written)."""
    tree = Tree()
    groups: dict[bytes, dict[tuple[bytes, ...], bytes]] = {}
    for path, blob_id in paths.items():
        if len(path) == 1:
            tree.add(path[0], FILE_MODE, ObjectID(blob_id))
        else:
            groups.setdefault(path[0], {})[path[1:]] = blob_id
    for name, sub in groups.items():
        tree.add(name, TREE_MODE, ObjectID(_tree_id(sub)))
    return bytes(tree.id)
