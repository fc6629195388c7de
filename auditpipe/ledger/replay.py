"""The union of two ledger histories (for ``sync``, on objects already fetched).

- ``plan_union``: an entry *this clone has seen on the remote* (in the remote
  head it last accepted, or in the history both sides share) must still be there
  with the same bytes, else the remote was rewritten. Local entries the remote
  lacks are *local-only*, to be replayed oldest first.
- ``replay``: one new commit per local-only entry on top of the remote head,
  with the same blob and the index paths ``Ledger.append`` would add.
- ``adopt``: verify the result, then move the local ref there, crash-safely.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from dulwich.file import FileLocked
from dulwich.objects import Blob, Commit, ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from auditpipe.errors import Error, LedgerError, VerificationFailed
from auditpipe.ledger import layout
from auditpipe.ledger.gitstore import GitStore
from auditpipe.ledger.state import VERIFIED_HEAD, read_verified_head, write_verified_head
from auditpipe.ledger.verify import Progress, VerifyReport, verify_ledger
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.interface import Verifier
from auditpipe.workspace import Workspace

EMPTY_BLOB = Blob.from_string(b"")
REPLAYED_FROM = "Replayed-from"


@dataclass(frozen=True)
class LocalEntry:
    """An entry only this clone holds: its id, blob, and the commit that added it."""

    id: str
    blob: bytes
    origin: bytes | None


@dataclass(frozen=True)
class Plan:
    """How the local head relates to a remote head."""

    base: bytes | None  # newest commit on both first-parent chains
    local_commits: frozenset[bytes]  # local commits after ``base``
    local_only: list[LocalEntry]  # oldest first
    received: int  # entries the remote has and the local head lacks
    rewritten: list[str]  # entries seen on the remote that are now missing or changed


def tree_of(store: GitStore, commit: bytes | None) -> bytes | None:
    return store.commit_links(commit)[0] if commit else None


def entry_blobs(store: GitStore, tree: bytes | None) -> dict[str, bytes]:
    """entry id -> blob id for every well-formed entry file under ``entries/``."""
    found: dict[str, bytes] = {}
    if tree is None:
        return found
    for _bucket, mode, bucket_tree in store.children(tree, (layout.ENTRIES,)):
        if mode == 0o040000:
            found.update(_bucket_entries(store, bucket_tree))
    return found


def _bucket_entries(store: GitStore, bucket_tree: bytes) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for name, (_mode, sha) in store.tree_items(bucket_tree).items():
        entry_id = layout.id_from_filename(name)
        if entry_id is not None:
            found[entry_id] = sha
    return found


def first_parents(store: GitStore, head: bytes | None) -> Iterator[bytes]:
    """The first-parent chain from ``head`` back to the root."""
    current = head
    while current:
        yield current
        parents = store.commit_links(current)[1]
        current = parents[0] if parents else None


def descends(store: GitStore, head: bytes | None, ancestor: bytes) -> bool:
    """Whether ``ancestor`` is on the first-parent chain of ``head``."""
    return any(sha == ancestor for sha in first_parents(store, head))


def merge_base(
    store: GitStore, local: bytes | None, remote: bytes
) -> tuple[bytes | None, list[bytes]]:
    """(newest commit both chains share, local commits after it newest first).

    Walking both chains in step costs the distance to the base, not the ledger's
    length: the first commit one walk meets that the other passed is the base.
    """
    if local is None:
        return None, []
    mine: list[bytes] = []
    mine_set: set[bytes] = set()
    theirs: set[bytes] = set()
    for ours, other in zip_longest(first_parents(store, local), first_parents(store, remote)):
        if ours is not None:
            if ours in theirs:
                return ours, mine
            mine.append(ours)
            mine_set.add(ours)
        if other is not None:
            if other in mine_set:
                return other, mine[: mine.index(other)]
            theirs.add(other)
    return None, mine


def plan_union(store: GitStore, local: bytes | None, remote: bytes, accepted: bytes | None) -> Plan:
    """Compare ``local`` with ``remote``; ``accepted`` is the remote head this clone last took."""
    base, after_base = merge_base(store, local, remote)
    remote_entries = entry_blobs(store, tree_of(store, remote))
    rewritten: list[str] = []
    checked: set[tuple[str, bytes]] = set()
    for seen in dict.fromkeys(c for c in (accepted, base) if c is not None):
        for entry_id, blob in entry_blobs(store, tree_of(store, seen)).items():
            if (entry_id, blob) in checked:
                continue
            checked.add((entry_id, blob))
            theirs = remote_entries.get(entry_id)
            if theirs is None:
                rewritten.append(f"entry {entry_id}: missing from the remote ledger")
            elif theirs != blob:
                rewritten.append(f"entry {entry_id}: changed on the remote ledger")
    local_entries = entry_blobs(store, tree_of(store, local))
    for entry_id, blob in local_entries.items():
        theirs = remote_entries.get(entry_id)
        if theirs is not None and theirs != blob and (entry_id, blob) not in checked:
            rewritten.append(f"entry {entry_id}: the remote holds different bytes under this id")
    only_here = {i: b for i, b in local_entries.items() if i not in remote_entries}
    return Plan(
        base=base,
        local_commits=frozenset(after_base),
        local_only=_in_order(store, after_base, only_here),
        received=sum(1 for i in remote_entries if i not in local_entries),
        rewritten=sorted(set(rewritten)),
    )


def _in_order(
    store: GitStore, newest_first: list[bytes], wanted: dict[str, bytes]
) -> list[LocalEntry]:
    """The wanted entries in the order the local commits added them."""
    ordered: list[LocalEntry] = []
    placed: set[str] = set()
    for sha in reversed(newest_first):
        tree, parents = store.commit_links(sha)
        parent_tree = tree_of(store, parents[0]) if parents else None
        for entry_id in sorted(_added(store, parent_tree, tree)):
            if entry_id in wanted and entry_id not in placed:
                ordered.append(LocalEntry(entry_id, wanted[entry_id], sha))
                placed.add(entry_id)
    # Anything not found on the walk (a history made by other tools) goes last.
    for entry_id in sorted(set(wanted) - placed):
        ordered.append(LocalEntry(entry_id, wanted[entry_id], None))
    return ordered


def _added(store: GitStore, before: bytes | None, after: bytes | None) -> set[str]:
    """Entry ids present under ``after`` and not ``before``, diffing changed buckets only."""
    old = _buckets(store, before)
    new = _buckets(store, after)
    added: set[str] = set()
    for name, sha in new.items():
        if old.get(name) != sha:
            prior = _bucket_entries(store, old[name]) if name in old else {}
            added.update(i for i in _bucket_entries(store, sha) if i not in prior)
    return added


def _buckets(store: GitStore, tree: bytes | None) -> dict[bytes, bytes]:
    found = store.children(tree, (layout.ENTRIES,)) if tree else []
    return {name: sha for name, mode, sha in found if mode == 0o040000}


def _lost_entries(store: GitStore, head: bytes, olds: Iterable[bytes | None]) -> list[str]:
    """Entries under any of ``olds`` that ``head`` lacks or holds with other bytes."""
    merged = entry_blobs(store, tree_of(store, head))
    lost: set[str] = set()
    for old in olds:
        held = entry_blobs(store, tree_of(store, old))
        lost.update(i for i, blob in held.items() if merged.get(i) != blob)
    return sorted(lost)


def count_new(store: GitStore, old: bytes | None, new: bytes) -> int:
    """How many entries ``new`` holds that ``old`` does not."""
    before = entry_blobs(store, tree_of(store, old))
    return sum(1 for i in entry_blobs(store, tree_of(store, new)) if i not in before)


class _PinnedHead(GitStore):
    """The ledger as it would read with its ref at ``head``: what ``verify_ledger``
    checks before the ref is moved there."""

    def __init__(self, workspace: Workspace, head: bytes) -> None:
        super().__init__(workspace)
        self._pinned = head

    def head(self) -> bytes | None:
        return self._pinned


def adopt(
    store: GitStore,
    plan: Plan,
    local: bytes | None,
    remote: bytes,
    verifier: Verifier,
    progress: Progress | None = None,
) -> tuple[bytes | None, VerifyReport | None]:
    """Replay ``plan.local_only`` onto ``remote``, verify it, and move the local ref there.

    Returns (local head after, the verification of it; None when nothing changed).
    Callers hold the writer lock. The last verified head stays an ancestor of
    the local ref at every instant: when the new head does not descend from it,
    it is first moved back to ``plan.base`` (cleared when there is none), then
    the ref moves by compare-and-swap, then the new head is recorded.
    """
    state_dir = store.workspace.state_dir
    verified = read_verified_head(state_dir)
    if plan.base == remote:  # the remote head is in the local history: nothing to add
        return local, None
    head = replay(store, remote, plan.local_only)
    if head == local:
        return local, None
    lost = _lost_entries(store, head, [local, verified])
    if lost:
        raise VerificationFailed(
            "the union would lose or change local entries; nothing was changed",
            problems=[f"entry {i}" for i in lost],
            hint="run `auditpipe verify --ledger` to see what is wrong with the local ledger",
        )
    if verified is None or (local is not None and verified not in plan.local_commits):
        anchor = verified  # already an ancestor of the new head
    elif local is not None:
        anchor = plan.base
    else:
        anchor = verified if descends(store, remote, verified) else None
    if anchor != verified:
        _set_verified(state_dir, anchor)
    try:
        candidate = _PinnedHead(store.workspace, head)
        try:
            report = verify_ledger(candidate, verifier, record=False, progress=progress)
        finally:
            candidate.close()
        if not report.ok:
            raise VerificationFailed(
                "the union with the remote ledger does not verify; the local ledger is unchanged",
                problems=[p.describe() for p in report.problems],
                hint="entries by unknown signers are accepted (as untrusted); these are "
                "broken: ask whoever appended them, and run `auditpipe verify --ledger` here",
            )
        if not store.move_ref(local, head):
            raise LedgerError(
                "refs/heads/auditpipe/ledger was moved by another program during the sync",
                hint="run the command again",
            )
    except BaseException:
        if anchor != verified:
            _set_verified(state_dir, verified)
        raise
    write_verified_head(state_dir, head)
    return head, report


def get_ref(repo: Repo, name: bytes) -> bytes | None:
    value = repo.refs.read_ref(Ref(name))
    return bytes(value) if value else None


def set_ref(repo: Repo, name: bytes, value: bytes) -> None:
    """Set one of auditpipe's own refs. Callers hold the writer lock, so a
    leftover lock file can only be a killed process's."""
    for _attempt in range(3):
        try:
            repo.refs[Ref(name)] = ObjectID(value)
            return
        except FileLocked as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.fsdecode(exc.lockfilename))
        except OSError as exc:
            raise LedgerError(f"cannot update {name.decode()}: {exc}") from exc
    raise LedgerError(f"cannot update {name.decode()}: its lock file keeps coming back")


def _set_verified(state_dir: Path, head: bytes | None) -> None:
    if head is None:
        (state_dir / VERIFIED_HEAD).unlink(missing_ok=True)
    else:
        write_verified_head(state_dir, head)


def replay(store: GitStore, onto: bytes, entries: Iterable[LocalEntry]) -> bytes:
    """Append ``entries`` on top of ``onto``, one commit each; returns the new head.

    The entry blob is reused as is (the same bytes); the index paths are derived
    from the entry exactly as ``Ledger.append`` derives them. Callers hold the
    ledger writer lock (``GitStore.add`` relies on it).
    """
    head = onto
    tree = tree_of(store, onto)
    store.add(EMPTY_BLOB)
    committer = _committer(store)
    for entry in entries:
        tree = store.write_tree(tree, _additions(store, entry))
        head = _replay_commit(store, tree, head, entry, committer)
    return head


def _additions(store: GitStore, entry: LocalEntry) -> dict[tuple[bytes, ...], bytes]:
    try:
        bundle = parse_bundle(store.blob(entry.blob))
        if bundle.id != entry.id:
            raise LedgerError(f"payload hashes to {bundle.id}, not to the entry's id")
        signed = SignedStatement.parse(bundle.payload, require_canonical=False)
    except Error as exc:
        raise LedgerError(
            f"local entry {entry.id} cannot be replayed: {exc.message}",
            path=layout.entry_path_str(entry.id),
            hint="run `auditpipe verify --ledger` to see what is wrong with the local ledger",
        ) from exc
    additions: dict[tuple[bytes, ...], bytes] = dict.fromkeys(
        layout.index_paths_for(entry.id, signed), EMPTY_BLOB.id
    )
    additions[layout.entry_path(entry.id)] = entry.blob
    return additions


def _replay_commit(
    store: GitStore, tree: bytes, parent: bytes, entry: LocalEntry, committer: bytes
) -> bytes:
    """A commit like the original append: same author and message, plus a trailer.

    Like ``git rebase``, the author (who appended, and when) is kept and the
    committer is this clone at replay time.
    """
    commit = Commit()
    commit.tree = ObjectID(tree)
    commit.parents = [ObjectID(parent)]
    origin = _origin(store, entry)
    trailer = f"{REPLAYED_FROM}: {entry.origin.decode()}\n" if entry.origin else ""
    if origin is not None:
        commit.author, commit.author_time = origin.author, origin.author_time
        commit.author_timezone = origin.author_timezone
        message = origin.message.decode("utf-8", "replace")
        if f"\n{REPLAYED_FROM}: " not in message:  # replayed again: keep the first origin
            message = message.rstrip("\n") + "\n" + trailer
    else:
        commit.author, commit.author_time, commit.author_timezone = committer, int(time.time()), 0
        message = f"auditpipe: replayed entry\n\nEntry: {entry.id}\n{trailer}"
    commit.committer, commit.commit_time, commit.commit_timezone = committer, int(time.time()), 0
    commit.encoding = b"UTF-8"
    commit.message = message.encode("utf-8")
    store.add(commit)
    return bytes(commit.id)


def _origin(store: GitStore, entry: LocalEntry) -> Commit | None:
    """The commit that appended this entry, when its message says so (``Entry:`` trailer)."""
    if entry.origin is None:
        return None
    commit = store.commit(entry.origin)
    lines = commit.message.decode("utf-8", "replace").splitlines()
    return commit if f"Entry: {entry.id}" in lines else None


def _committer(store: GitStore) -> bytes:
    config = store.repo.get_config_stack()  # the identity rule of GitStore.write_commit
    try:
        return (
            bytes(config.get(b"user", b"name"))
            + b" <"
            + bytes(config.get(b"user", b"email"))
            + b">"
        )
    except KeyError:
        return b"auditpipe <auditpipe@localhost>"
