"""Read a ``TrustRoot``'s bytes: from a git revision's objects, or from the working tree.

With a trust ref nothing is read from the working tree: a file the change under
review added, edited or deleted there is invisible. Which ref: ``--trust-ref``,
else ``--base``, else ``$AUDITPIPE_TRUST_REF``, else the working tree.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from dulwich.errors import NotTreeError
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from auditpipe.errors import ConfigError, RepositoryError
from auditpipe.trust.root import (
    KEY_DIRS,
    POLICIES,
    TRUST_FILES,
    TRUST_REF_ENV,
    TrustRoot,
    policy_key,
    trust_root,
)
from auditpipe.workspace import Workspace, resolve_revision


def choose_ref(trust_ref: str | None, base: str | None = None) -> str | None:
    """``--trust-ref``, else ``--base``, else ``$AUDITPIPE_TRUST_REF``; None: the working tree."""
    return trust_ref or base or os.environ.get(TRUST_REF_ENV) or None


def open_trust(
    workspace: Workspace, ref: str | None, policies: Sequence[Path | str] = ()
) -> TrustRoot:
    """The trust root at ``ref`` (None: the working tree), with the named policy files."""
    if ref is None:
        return trust_root(working_tree_files(workspace.root, policies), root=workspace.root)
    with workspace.open() as repo:
        commit, files = revision_files(repo, workspace.root, ref, policies)
    return trust_root(files, root=workspace.root, ref=ref, commit=commit)


def working_tree_files(root: Path, policies: Sequence[Path | str] = ()) -> dict[str, bytes]:
    """The trust files as they are on disk (absent ones are left out)."""
    files: dict[str, bytes] = {}
    wanted = [
        p.relative_to(root).as_posix()
        for directory in KEY_DIRS
        for p in sorted((root / directory).glob("*.pem"))
    ]
    wanted += [rel for rel in TRUST_FILES if (root / rel).is_file()]
    for rel in wanted:
        files[rel] = _read(root / rel, rel)
    for path in policies:
        key = policy_key(root, path, None)
        target = Path(key) if os.path.isabs(key) else root / key
        if target.is_file():
            files[key] = _read(target, str(path))
    return files


def revision_files(
    repo: Repo, root: Path, ref: str, policies: Sequence[Path | str] = ()
) -> tuple[str, dict[str, bytes]]:
    """(commit id, trust files) at a git revision, read from its objects only."""
    try:
        commit_id = resolve_revision(repo, ref)
    except RepositoryError:
        raise ConfigError(
            f"trust ref {ref!r} does not exist in this repository",
            hint="fetch it first (in CI: actions/checkout with fetch-depth: 0, or "
            f"`git fetch origin <base>`), or give --trust-ref / ${TRUST_REF_ENV} a revision "
            "that exists, such as origin/main",
        ) from None
    commit = repo[commit_id.encode()]
    assert isinstance(commit, Commit)

    def lookup(rel: str) -> Blob | Tree | None:
        try:
            _mode, sha = tree_lookup_path(repo.__getitem__, commit.tree, rel.encode())
            found = repo[sha]
        except (KeyError, NotADirectoryError, NotTreeError):  # absent, under a file, a gitlink
            return None
        return found if isinstance(found, Blob | Tree) else None

    if not isinstance(lookup(POLICIES), Tree):
        raise ConfigError(
            f"trust ref {ref} (commit {commit_id[:12]}) has no {POLICIES}/ directory",
            hint="the keys and policies a check trusts are read from the trust ref, so they "
            f"must be committed there: merge `auditpipe init`'s {POLICIES}/ into that branch "
            "first, or pass --trust-ref with a revision that has them",
        )
    files: dict[str, bytes] = {}
    for directory in KEY_DIRS:
        _keys_at(repo, lookup(directory), directory, files)
    for rel in [*TRUST_FILES, *(policy_key(root, p, ref) for p in policies)]:
        found = lookup(rel)
        if isinstance(found, Blob):
            files[rel] = found.as_raw_string()
    return commit_id, files


def _keys_at(repo: Repo, keys: Blob | Tree | None, directory: str, files: dict[str, bytes]) -> None:
    """The regular ``*.pem`` files of a key directory at a revision, into ``files``."""
    if isinstance(keys, Tree):
        for item in keys.items():
            name = item.path.decode("utf-8", "replace")
            if not name.endswith(".pem") or not stat.S_ISREG(item.mode):
                continue  # symlinks and submodules are not keys
            blob = repo[item.sha]
            if isinstance(blob, Blob):
                files[f"{directory}/{name}"] = blob.as_raw_string()


def _read(path: Path, display: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        from auditpipe.faults import os_fault

        raise os_fault(exc, display) from exc
