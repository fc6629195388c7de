"""Reading and writing ``auditpipe.lock``: in the working tree, or at a git revision."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from auditpipe.errors import ConfigError, RepositoryError
from auditpipe.lock.model import Lock, parse_lock
from auditpipe.workspace import Workspace, resolve_revision

LOCK_FILE = "auditpipe.lock"


def read_lock(workspace: Workspace) -> Lock | None:
    """The working tree's lock, or None when there is none."""
    path = workspace.root / LOCK_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read the lock: {exc.strerror}", path=LOCK_FILE) from exc
    return parse_lock(data, LOCK_FILE)


def stages_in(data: bytes, where: str) -> dict[str, str]:
    """``{stage: entry id}`` of a lock's bytes, ``{}`` when they are not a valid
    lock: readers of other revisions' locks (diff, gc, baselines) then fall back
    to the ledger instead of failing on an old or broken file."""
    try:
        return dict(parse_lock(data, where).stages)
    except ConfigError:
        return {}


def write_lock(workspace: Workspace, lock: Lock) -> Path:
    """Write the lock atomically; unchanged bytes leave the file untouched."""
    path = workspace.root / LOCK_FILE
    data = lock.render()
    try:
        if path.read_bytes() == data:
            return path
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".auditpipe.lock.", dir=workspace.root)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def lock_at_revision(workspace: Workspace, ref: str) -> bytes | None:
    """The bytes of ``auditpipe.lock`` at git revision ``ref`` (None: it has none).

    Read from git objects (dulwich), never from the working tree, so a trust
    ref's lock cannot be changed by the change under review.
    """
    from dulwich.object_store import tree_lookup_path
    from dulwich.objects import Blob, Commit

    with workspace.open() as repo:
        sha = resolve_revision(repo, ref)
        commit = repo[sha.encode()]
        if not isinstance(commit, Commit):
            raise RepositoryError(f"{ref!r} is not a commit")
        try:
            _mode, blob_id = tree_lookup_path(repo.__getitem__, commit.tree, LOCK_FILE.encode())
        except KeyError:
            return None
        blob = repo[blob_id]
        return blob.as_raw_string() if isinstance(blob, Blob) else None
