"""An isolated checkout of one commit, written from git objects (no index, no worktree)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dulwich.objects import Blob, Commit, ObjectID
from dulwich.repo import Repo

from auditpipe.errors import RepositoryError


def materialize(repo: Repo, commit_id: str, dest: Path) -> None:
    """Write the tree of ``commit_id`` under ``dest`` (files, executables, symlinks).

    Submodules are skipped; paths are checked to stay inside ``dest``.
    """
    try:
        commit = repo[commit_id.encode()]
    except KeyError:
        raise RepositoryError(
            f"commit {commit_id[:12]} is not in this repository",
            hint="fetch it (`git fetch`), then run reproduce again",
        ) from None
    if not isinstance(commit, Commit):
        raise RepositoryError(f"{commit_id[:12]} is not a commit")
    root = dest.resolve()
    for entry in repo.object_store.iter_tree_contents(ObjectID(commit.tree)):
        if entry.path is None or entry.mode is None or entry.sha is None:
            continue
        rel = entry.path.decode("utf-8", "surrogateescape")
        target = (root / rel).resolve() if not stat.S_ISLNK(entry.mode) else root / rel
        if not str(target).startswith(str(root) + os.sep):
            raise RepositoryError(f"commit {commit_id[:12]} holds an unsafe path {rel!r}")
        if stat.S_ISDIR(entry.mode) or entry.mode == 0o160000:  # submodule
            continue
        blob = repo.object_store[entry.sha]
        if not isinstance(blob, Blob):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if stat.S_ISLNK(entry.mode):
            os.symlink(blob.data.decode("utf-8", "surrogateescape"), target)
        else:
            target.write_bytes(blob.data)
            if entry.mode & 0o111:
                target.chmod(0o755)


def read_at(repo: Repo, commit_id: str, rel: str) -> bytes | None:
    """A file's bytes at a commit (``None`` when it is not there)."""
    from dulwich.object_store import tree_lookup_path

    try:
        commit = repo[commit_id.encode()]
        assert isinstance(commit, Commit)
        _mode, sha = tree_lookup_path(repo.object_store.__getitem__, commit.tree, rel.encode())
        blob = repo.object_store[sha]
    except (KeyError, AssertionError, NotADirectoryError):
        return None
    return blob.data if isinstance(blob, Blob) else None
