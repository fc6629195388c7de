"""Git plumbing for the ledger, via dulwich: read trees, write objects, move the ref.

Objects are written before the ref moves, and the ref moves only by
compare-and-swap, so a reader or a crashed writer never sees a ref pointing at
something incomplete. dulwich exceptions stop here and become ``LedgerError``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping

from dulwich.errors import ObjectFormatException
from dulwich.file import FileLocked
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree, parse_tree
from dulwich.repo import Repo

from auditpipe.errors import LedgerError
from auditpipe.faults import describe, shown
from auditpipe.ledger.layout import LEDGER_REF
from auditpipe.ledger.objsize import object_size, read_loose_bounded
from auditpipe.workspace import Workspace

TREE_MODE = 0o040000
_TYPE_NUMS = {b"commit": Commit.type_num, b"tree": Tree.type_num, b"blob": Blob.type_num, b"tag": 4}
FILE_MODE = 0o100644
Path_ = tuple[bytes, ...]


class GitStore:
    """Object and ref access for one repository's ledger branch."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.repo: Repo = workspace.open()
        self._trees: OrderedDict[bytes, dict[bytes, tuple[int, bytes]]] = OrderedDict()
        self._objects_dir = os.fsdecode(self.repo.object_store.path)

    def close(self) -> None:
        self.repo.close()

    # -- reading ---------------------------------------------------------------

    def head(self) -> bytes | None:
        """The ledger ref's commit id, or None when the branch does not exist."""
        try:
            value = self.repo.refs[LEDGER_REF]  # type: ignore[index]
        except KeyError:
            return None
        except OSError as exc:
            raise LedgerError(f"cannot read ref {LEDGER_REF.decode()}: {exc}") from exc
        return bytes(value) if value else None

    def get(self, sha: bytes) -> ShaFile:
        try:
            return self.repo.object_store[ObjectID(sha)]
        except KeyError:
            raise LedgerError(
                f"git object {sha.decode()} is missing from the repository",
                hint="the repository is incomplete; fetch the ledger again or run `git fsck`",
            ) from None
        except (ObjectFormatException, ValueError, OSError) as exc:
            raise LedgerError(f"git object {sha.decode()} is corrupt: {exc}") from exc

    def commit(self, sha: bytes) -> Commit:
        obj = self.get(sha)
        if not isinstance(obj, Commit):
            raise LedgerError(f"{sha.decode()} is not a commit")
        return obj

    def raw(self, sha: bytes) -> tuple[int, bytes]:
        """(type number, content) of an object.

        Loose objects are read directly (one open and one inflate: the hot path
        of ``verify``); packed ones through dulwich.
        """
        hexsha = sha.decode()
        path = os.path.join(self._objects_dir, hexsha[:2], hexsha[2:])
        try:
            with open(path, "rb") as handle:
                data = zlib.decompress(handle.read())
        except FileNotFoundError:
            pass
        except (OSError, zlib.error) as exc:
            raise LedgerError(f"git object {hexsha} is corrupt: {exc}") from exc
        else:
            header, _, body = data.partition(b"\0")
            kind = _TYPE_NUMS.get(header.split(b" ", 1)[0])
            if kind is None:
                raise LedgerError(f"git object {hexsha} has an unknown type")
            return kind, body
        try:
            type_num, body = self.repo.object_store.get_raw(ObjectID(sha))
        except KeyError:
            raise LedgerError(
                f"git object {hexsha} is missing from the repository",
                hint="the repository is incomplete; fetch the ledger again or run `git fsck`",
            ) from None
        except (ObjectFormatException, ValueError, OSError) as exc:
            raise LedgerError(f"git object {hexsha} is corrupt: {exc}") from exc
        return type_num, bytes(body)

    def tree_items(self, sha: bytes) -> dict[bytes, tuple[int, bytes]]:
        """name -> (mode, hex sha) of a tree, parsed from its raw form and cached."""
        cached = self._trees.get(sha)
        if cached is not None:
            self._trees.move_to_end(sha)
            return cached
        type_num, body = self.raw(sha)
        if type_num != Tree.type_num:
            raise LedgerError(f"{sha.decode()} is not a tree")
        try:
            items = {name: (mode, bytes(hexsha)) for name, mode, hexsha in parse_tree(body, 20)}
        except ObjectFormatException as exc:
            raise LedgerError(f"tree {sha.decode()} is corrupt: {exc}") from exc
        self._trees[sha] = items
        if len(self._trees) > 8192:
            self._trees.popitem(last=False)
        return items

    def commit_links(self, sha: bytes) -> tuple[bytes, list[bytes]]:
        """(tree, parents) of a commit, read from its header without a full parse."""
        tree, parents, _message = self.commit_parts(sha)
        return tree, parents

    def commit_parts(self, sha: bytes) -> tuple[bytes, list[bytes], bytes]:
        """(tree, parents, message) of a commit, read without a full parse."""
        type_num, body = self.raw(sha)
        if type_num != Commit.type_num:
            raise LedgerError(f"{sha.decode()} is not a commit")
        tree = b""
        parents: list[bytes] = []
        header, _, message = body.partition(b"\n\n")
        for line in header.split(b"\n"):
            if line.startswith(b"tree "):
                tree = line[5:]
            elif line.startswith(b"parent "):
                parents.append(line[7:])
        if len(tree) != 40:
            raise LedgerError(f"commit {sha.decode()} has no tree")
        return tree, parents, message

    def blob(self, sha: bytes) -> bytes:
        type_num, body = self.raw(sha)
        if type_num != Blob.type_num:
            raise LedgerError(f"{sha.decode()} is not a blob")
        return body

    def bounded_blob(self, sha: bytes, limit: int) -> bytes:
        """A blob's content; refused, from its object header alone, past ``limit`` bytes.

        A loose object is read with one open (whole when its file is under 64
        KiB, else only its header) and inflated no further than ``limit``; a
        packed one's size comes from its pack entry header.
        """
        hexsha = sha.decode()
        try:
            loose = read_loose_bounded(
                os.path.join(self._objects_dir, hexsha[:2], hexsha[2:]), limit
            )
            size = (
                loose[0]
                if loose
                else object_size(self._objects_dir, self.repo.object_store, hexsha)
            )
        except (OSError, ValueError, IndexError, zlib.error) as exc:
            raise LedgerError(f"git object {hexsha} is corrupt: {exc}") from exc
        if size is not None and size > limit:
            raise LedgerError(
                f"{size:,} bytes, over the {limit // (1024 * 1024)} MiB size limit for an entry"
            )
        if loose is not None and loose[1] is not None:
            return loose[1]
        return self.blob(sha)

    def lookup(self, tree_id: bytes, path: Path_) -> tuple[int, bytes] | None:
        """(mode, sha) at ``path`` below ``tree_id``, or None."""
        current = tree_id
        mode = TREE_MODE
        for part in path:
            if mode != TREE_MODE:
                return None
            found = self.tree_items(current).get(part)
            if found is None:
                return None
            mode, current = found
        return mode, current

    def children(self, tree_id: bytes, path: Path_ = ()) -> list[tuple[bytes, int, bytes]]:
        """(name, mode, sha) of each item of the tree at ``path`` (empty if absent)."""
        found = self.lookup(tree_id, path) if path else (TREE_MODE, tree_id)
        if found is None or found[0] != TREE_MODE:
            return []
        return [(name, mode, sha) for name, (mode, sha) in self.tree_items(found[1]).items()]

    # -- writing ---------------------------------------------------------------

    def add(self, obj: ShaFile) -> None:
        """Write a dulwich object through the same atomic path as our trees."""
        self.write_object(obj.type_name, obj.as_raw_string())

    def write_tree(self, base: bytes | None, additions: Mapping[Path_, bytes]) -> bytes:
        """A new tree: ``base`` plus blobs at ``additions`` paths; returns its id.

        Trees are serialized and written here rather than through dulwich's
        ``Tree`` objects: an append rewrites a dozen fan-out trees of up to 256
        entries each, and building them entry by entry dominated append time.
        """
        items = dict(self.tree_items(base)) if base is not None else {}
        groups: dict[bytes, dict[Path_, bytes]] = {}
        for path, blob_id in additions.items():
            if len(path) == 1:
                items[path[0]] = (FILE_MODE, blob_id)
            else:
                groups.setdefault(path[0], {})[path[1:]] = blob_id
        for name, sub in groups.items():
            existing = items.get(name)
            child_base = existing[1] if existing and existing[0] == TREE_MODE else None
            items[name] = (TREE_MODE, self.write_tree(child_base, sub))
        sha = self.write_object(b"tree", _serialize_tree(items))
        self._trees[sha] = items
        return sha

    def write_object(self, kind: bytes, body: bytes) -> bytes:
        """Write a loose object atomically (temp file + rename); returns its hex id.

        Content-addressed and renamed into place, so a writer killed half-way
        leaves at most a ``tmp_obj_*`` file (git's own naming, which gc removes),
        never a lock that blocks the next append.
        """
        raw = b"%s %d\0%s" % (kind, len(body), body)
        hexsha = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        folder = os.path.join(self._objects_dir, hexsha[:2])
        path = os.path.join(folder, hexsha[2:])
        if os.path.exists(path):
            return hexsha.encode()
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix="tmp_obj_", dir=folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(zlib.compress(raw, 1))
                os.chmod(tmp, 0o444)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise _unchanged("write to the ledger's git objects", exc, folder, "write") from exc
        return hexsha.encode()

    def write_commit(self, tree_id: bytes, parent: bytes | None, message: str) -> bytes:
        commit = Commit()
        commit.tree = tree_id
        commit.parents = [ObjectID(parent)] if parent else []
        ident = _identity(self.repo)
        commit.author = commit.committer = ident
        now = int(time.time())
        commit.author_time = commit.commit_time = now
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode("utf-8")
        self.add(commit)
        return bytes(commit.id)

    def move_ref(self, old: bytes | None, new: bytes) -> bool:
        """Compare-and-swap the ledger ref from ``old`` to ``new``."""
        refs = self.repo.refs
        for _attempt in range(3):
            try:
                if old is None:
                    return bool(refs.add_if_new(LEDGER_REF, new))  # type: ignore[arg-type]
                return bool(refs.set_if_equals(LEDGER_REF, old, new))  # type: ignore[arg-type]
            except FileLocked as exc:
                _remove_stale(exc.lockfilename)
            except OSError as exc:
                where = exc.filename if exc.filename else None
                raise _unchanged(f"update {LEDGER_REF.decode()}", exc, where, "write") from exc
        return False

    def check_ref_access(self) -> None:
        """Raise a ``LedgerError`` if the OS, not another writer, refused the ref.

        dulwich reads the ref under its lock and treats any ``OSError`` (too many
        open files, say) as "the ref changed", so a swap that keeps failing is
        checked here, holding two descriptors as dulwich does, before anyone is
        told of contention.
        """
        path = os.fsdecode(self.repo.refs.refpath(LEDGER_REF))  # type: ignore[attr-defined]
        held: list[int] = []
        try:
            held.append(os.open(path, os.O_RDONLY))
            held.append(os.open(path, os.O_RDONLY))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _unchanged(f"update {LEDGER_REF.decode()}", exc, path, "read") from exc
        finally:
            for fd in held:
                os.close(fd)


def _unchanged(action: str, exc: OSError, path: object, verb: str) -> LedgerError:
    """A fault that stopped an append before the ref moved: the ledger is as it was."""
    what, hint = describe(exc, verb)
    return LedgerError(
        f"cannot {action}: {what}; the ledger is unchanged",
        path=shown(path),
        hint=hint,
    )


def _serialize_tree(items: Mapping[bytes, tuple[int, bytes]]) -> bytes:
    """git's tree encoding: entries sorted by name, directories as if ending in '/'."""

    def order(name: bytes) -> bytes:
        return name + b"/" if items[name][0] == TREE_MODE else name

    return b"".join(
        b"%o %s\0%s" % (items[name][0], name, bytes.fromhex(items[name][1].decode()))
        for name in sorted(items, key=order)
    )


def _remove_stale(lockfilename: str | bytes) -> None:
    name = os.fsdecode(lockfilename)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)


def _identity(repo: Repo) -> bytes:
    env_name = os.environ.get("GIT_COMMITTER_NAME")
    env_email = os.environ.get("GIT_COMMITTER_EMAIL")
    if env_name and env_email:
        return f"{env_name} <{env_email}>".encode()
    try:
        config = repo.get_config_stack()
        name = config.get((b"user",), b"name")
        email = config.get((b"user",), b"email")
        return bytes(name) + b" <" + bytes(email) + b">"
    except KeyError:
        return b"auditpipe <auditpipe@localhost>"
