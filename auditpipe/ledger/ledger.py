"""``Ledger``: append signed entries to ``refs/heads/auditpipe/ledger`` and read them back.

An append is one commit adding ``entries/<id[:2]>/<id>.sigstore.json`` plus its
index paths, made from the current head and published by compare-and-swap on
the ref (retried on contention) under a per-repository writer lock. Nothing
outside the ledger ref, the object store and ``.git/auditpipe/`` is touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType

from dulwich.objects import Blob
from dulwich.objects import Commit as Commit_

from auditpipe.errors import EntryNotFound, FileSystemError, LedgerError, ManifestError
from auditpipe.ledger import format as entry_format
from auditpipe.ledger import layout
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.gitstore import GitStore
from auditpipe.ledger.state import read_verified_head, write_verified_head, writer_lock
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing.bundle import parse_bundle
from auditpipe.workspace import Workspace

MAX_CAS_ATTEMPTS = 50
EMPTY_BLOB = Blob.from_string(b"")


class Ledger:
    """The ledger branch of one repository."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.store = GitStore(workspace)

    @classmethod
    def open(cls, start: str = ".") -> Ledger:
        return cls(Workspace.discover(start))

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    # -- writing ---------------------------------------------------------------

    def append(self, bundle_bytes: bytes) -> str:
        """Add one signed bundle; returns its entry id.

        The bundle must be in its one byte form (``format.py``) and within the
        size limit. Appending an id that is already present changes nothing
        (entries are content-addressed).
        """
        if len(bundle_bytes) > layout.MAX_ENTRY_BYTES:
            raise ManifestError(
                f"the signed entry is {len(bundle_bytes):,} bytes, over the "
                f"{layout.MAX_ENTRY_BYTES // (1024 * 1024)} MiB limit for a ledger entry",
                hint="record large values (tables, logs) as files and their digests instead",
            )
        bundle = parse_bundle(bundle_bytes)
        signed = SignedStatement.parse(bundle.payload)
        entry_format.check_new(bundle_bytes, bundle, signed)
        entry_id = signed.id
        additions = dict.fromkeys(layout.index_paths_for(entry_id, signed), EMPTY_BLOB.id)
        blob = Blob.from_string(bundle_bytes)
        additions[layout.entry_path(entry_id)] = blob.id
        message = layout.commit_message(entry_id, signed.kind, signed.stage)

        state_dir = self.workspace.state_dir
        with writer_lock(state_dir):
            self.store.add(blob)
            self.store.add(EMPTY_BLOB)
            for _attempt in range(MAX_CAS_ATTEMPTS):
                head = self.store.head()
                base_tree = self.store.commit(head).tree if head else None
                if base_tree and self.store.lookup(base_tree, layout.entry_path(entry_id)):
                    return entry_id
                tree = self.store.write_tree(base_tree, additions)
                commit = self.store.write_commit(tree, head, message)
                if self.store.move_ref(head, commit):
                    # Our own append extends what this clone has verified. The
                    # entry is in; if the disk refuses this note, the next verify
                    # starts from the older head, which is only slower.
                    with contextlib.suppress(FileSystemError):
                        if head is not None and read_verified_head(state_dir) == head:
                            write_verified_head(state_dir, commit)
                    return entry_id
            self.store.check_ref_access()
        raise LedgerError(
            f"could not append entry {entry_id}: the ledger ref kept changing",
            hint="another process is rewriting refs/heads/auditpipe/ledger; try again",
        )

    def ensure_branch(self) -> bool:
        """Create the ledger branch (one empty root commit) if absent; True if created."""
        with writer_lock(self.workspace.state_dir):
            if self.store.head() is not None:
                return False
            tree = self.store.write_tree(None, {})
            commit = self.store.write_commit(tree, None, "auditpipe: ledger created\n")
            created = self.store.move_ref(None, commit)
            if created:
                write_verified_head(self.workspace.state_dir, commit)
            return created

    # -- reading ---------------------------------------------------------------

    def head(self) -> str | None:
        head = self.store.head()
        return head.decode() if head else None

    def _head_tree(self) -> bytes | None:
        head = self.store.head()
        return self.store.commit(head).tree if head else None

    def get(self, entry_id: str) -> Entry:
        """The entry with this full id; its payload is checked against the id."""
        tree = self._head_tree()
        found = self.store.lookup(tree, layout.entry_path(entry_id)) if tree else None
        if found is None:
            raise EntryNotFound(
                f"no ledger entry {entry_id}", hint="list entries with `auditpipe log`"
            )
        return self._load(entry_id, found[1])

    def _load(self, entry_id: str, blob_id: bytes, commit: Commit_ | None = None) -> Entry:
        path = layout.entry_path_str(entry_id)
        try:
            raw = self.store.bounded_blob(blob_id, layout.MAX_ENTRY_BYTES)
        except LedgerError as exc:
            raise LedgerError(f"entry {entry_id}: {exc.message}", path=path) from exc
        try:
            bundle = parse_bundle(raw)
        except ManifestError as exc:
            raise LedgerError(f"entry {entry_id} is malformed: {exc.message}", path=path) from exc
        if bundle.id != entry_id:
            raise LedgerError(
                f"entry {entry_id}: payload hashes to {bundle.id}, not its id",
                path=path,
                hint="the entry was tampered with; run `auditpipe verify --ledger`",
            )
        if commit is None:
            return Entry(entry_id, bundle)
        return Entry(entry_id, bundle, commit.id.decode(), commit.commit_time)

    def resolve(self, prefix: str) -> str:
        """The full id for a unique prefix (at least 4 hex characters)."""
        prefix = prefix.strip().lower()
        if len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
            raise EntryNotFound(
                f"{prefix!r} is not an entry id or prefix",
                hint="give at least 4 hex characters of an id shown by `auditpipe log`",
            )
        tree = self._head_tree()
        if tree is None:
            raise EntryNotFound(f"no ledger entry {prefix}", hint="the ledger is empty")
        matches = []
        for name, _mode, _sha in self.store.children(tree, (layout.ENTRIES, prefix[:2].encode())):
            candidate = layout.id_from_filename(name)
            if candidate and candidate.startswith(prefix):
                matches.append(candidate)
        if not matches:
            raise EntryNotFound(
                f"no ledger entry {prefix}", hint="list entries with `auditpipe log`"
            )
        if len(matches) > 1:
            raise EntryNotFound(
                f"id prefix {prefix} is ambiguous ({len(matches)} entries)",
                candidates=sorted(matches),
                hint="give more characters of the id",
            )
        return matches[0]

    def entries(self) -> Iterator[Entry]:
        """Every entry, newest first, following the branch's first-parent history."""
        head = self.store.head()
        while head:
            commit = self.store.commit(head)
            for entry_id in self._added_by(commit):
                found = self.store.lookup(commit.tree, layout.entry_path(entry_id))
                if found is not None:
                    yield self._load(entry_id, found[1], commit)
            head = commit.parents[0] if commit.parents else None

    def _added_by(self, commit: Commit_) -> list[str]:
        """Entry ids a commit added, from its tree against its parent's.

        Never from the commit message: what a message says is checked by
        ``verify``, never believed by a reader.
        """
        parent_tree = self.store.commit(commit.parents[0]).tree if commit.parents else None
        return _added_entries(self.store, parent_tree, commit.tree)

    def ids_for_subject(self, sha256: str) -> list[str]:
        """Entry ids whose statement has this subject digest (via the index)."""
        tree = self._head_tree()
        if tree is None or not layout.ENTRY_ID.match(sha256):
            return []
        path = (layout.INDEX, b"subject", sha256[:2].encode(), sha256.encode())
        return sorted(name.decode() for name, _m, _s in self.store.children(tree, path))

    def ids_for_material(self, sha256: str) -> list[str]:
        """Stage runs that consumed an input with this digest (via the index)."""
        tree = self._head_tree()
        if tree is None or not layout.ENTRY_ID.match(sha256):
            return []
        path = (layout.INDEX, b"material", sha256[:2].encode(), sha256.encode())
        return sorted(name.decode() for name, _m, _s in self.store.children(tree, path))

    def ids_for_stage(self, stage: str) -> list[str]:
        """Entry ids recorded for a stage (via the index)."""
        return self._ids_under((layout.INDEX, b"stage", layout.encode_component(stage)))

    def ids_for_stage_key(self, stage_key: str) -> list[str]:
        """Runs recorded with this stage key (command, definition, deps, params)."""
        tree = self._head_tree()
        if tree is None or not layout.ENTRY_ID.match(stage_key):
            return []
        path = (layout.INDEX, b"stage-key", stage_key[:2].encode(), stage_key.encode())
        return sorted(name.decode() for name, _m, _s in self.store.children(tree, path))

    def ids_for_kind(self, kind: str) -> list[str]:
        return self._ids_under((layout.INDEX, b"kind", layout.encode_component(kind)))

    def _ids_under(self, path: tuple[bytes, ...]) -> list[str]:
        tree = self._head_tree()
        if tree is None:
            return []
        ids: list[str] = []
        for bucket, _mode, _sha in self.store.children(tree, path):
            ids.extend(n.decode() for n, _m, _s in self.store.children(tree, (*path, bucket)))
        return sorted(ids)

    def lookup_subject(self, sha256: str) -> list[Entry]:
        """Entries about this artifact digest, each checked to really name it."""
        found = []
        for entry_id in self.ids_for_subject(sha256):
            entry = self.get(entry_id)
            if any(s.sha256 == sha256 for s in entry.signed.statement.subject):
                found.append(entry)
        return found


def _added_entries(store: GitStore, old_tree: bytes | None, new_tree: bytes) -> list[str]:
    """Ids of entry files in ``new_tree`` and not in ``old_tree``, diffing only the
    fan-out buckets whose tree ids differ."""
    old = {n: s for n, _m, s in store.children(old_tree, (layout.ENTRIES,))} if old_tree else {}
    ids: list[str] = []
    for bucket, _mode, sha in store.children(new_tree, (layout.ENTRIES,)):
        if old.get(bucket) == sha:
            continue
        before = (
            {n for n, _m, _s in store.children(old_tree, (layout.ENTRIES, bucket))}
            if (old_tree and bucket in old)
            else set()
        )
        for name, _m, _s in store.children(new_tree, (layout.ENTRIES, bucket)):
            entry_id = layout.id_from_filename(name)
            if entry_id and name not in before:
                ids.append(entry_id)
    return sorted(ids)
