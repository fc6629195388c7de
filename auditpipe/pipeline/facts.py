"""Facts about the world a stage ran in: code state, environment, runner, clock.

Only the variables a stage lists are recorded, secret ones by name only
(see ``auditpipe.secrets``); everything here is safe to sign into an
append-only ledger.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import re
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from dulwich.errors import NoIndexPresent, NotCommitError
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, ObjectID
from dulwich.repo import Repo

from auditpipe.manifest.predicates import CodeState, Environment, Runner
from auditpipe.secrets.guard import EnvRecord
from auditpipe.workspace import Workspace


def now_rfc3339() -> str:
    """UTC time with microseconds, RFC 3339 (``2026-11-22T13:27:00.123456Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@lru_cache(maxsize=1)
def _packages() -> tuple[str, ...]:
    found = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.add(f"{re.sub(r'[-_.]+', '-', name).lower()}=={dist.version}")
    return tuple(sorted(found))


def environment(env: EnvRecord | None = None) -> Environment:
    """Python, platform, installed packages (name==version, sorted), and the
    stage's variables: public ones by value, secret ones as set / not set."""
    packages = list(_packages())
    digest = hashlib.sha256("\n".join(packages).encode()).hexdigest()
    env = env or EnvRecord()
    return Environment(
        python=platform.python_version(),
        platform=platform.platform(),
        packages_digest=digest,
        packages=packages,
        variables=dict(env.public),
        secret_variables=dict(env.secret),
    )


def runner() -> Runner:
    """Who ran it: OS user, host, and the CI run URL when running in CI."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    ci_url = None
    if os.environ.get("GITHUB_RUN_ID") and os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        ci_url = (
            f"{server}/{os.environ['GITHUB_REPOSITORY']}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        )
    elif os.environ.get("CI_JOB_URL"):
        ci_url = os.environ["CI_JOB_URL"]
    return Runner(user=user, host=socket.gethostname(), ci_run_url=ci_url)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _tracked(repo: Repo) -> list[str]:
    """Paths in git's index (tracked files), repo-relative POSIX."""
    try:
        index = repo.open_index()
    except (OSError, ValueError, NoIndexPresent):
        return []
    return [p.decode("utf-8", "surrogateescape") for p in index.paths()]


def code_state(
    workspace: Workspace, code_deps: list[str], watched: Sequence[str] = ()
) -> CodeState:
    """HEAD's commit and tree, and whether the stage's own files differ from HEAD.

    "Dirty" concerns the stage, not the whole working tree: a code dependency
    not committed or differing from HEAD, or any git-tracked file among
    ``watched`` (its other deps, its params file, the pipeline file; a
    directory counts through the tracked files under it) that differs from
    HEAD. Untracked or ignored data (DVC-tracked, LFS, URLs) is data, recorded
    by digest, never "dirty". ``dirtyFiles`` names what differs.
    """
    repo = workspace.open()
    try:
        try:
            head = repo.head()
            commit = repo[head]
            tree: bytes | None = commit.tree  # type: ignore[attr-defined]
        except (KeyError, NotCommitError):
            head, tree = None, None
        digests: dict[str, str] = {}
        dirty_files: set[str] = set()

        def differs(rel: str, data: bytes | None) -> bool:
            """Whether the working file (``None``: absent) differs from HEAD."""
            if tree is None:
                return True
            try:
                _mode, blob_id = tree_lookup_path(
                    repo.object_store.__getitem__, ObjectID(tree), rel.encode()
                )
            except (KeyError, NotADirectoryError):
                return data is not None  # not committed at HEAD
            return data is None or Blob.from_string(data).id != blob_id

        for rel in code_deps:
            path = workspace.root / rel
            if not path.is_file():
                continue
            data = path.read_bytes()
            digests[rel] = hashlib.sha256(data).hexdigest()
            if differs(rel, data):
                dirty_files.add(rel)
        if watched:
            tracked = _tracked(repo)
            for rel in sorted(set(watched) - set(code_deps)):
                prefix = rel.rstrip("/") + "/"
                for name in (t for t in tracked if t == rel or t.startswith(prefix)):
                    path = workspace.root / name
                    current = path.read_bytes() if path.is_file() else None
                    if differs(name, current):
                        dirty_files.add(name)
        return CodeState(
            commit=head.decode() if head else None,
            tree=tree.decode() if tree else None,
            dirty=bool(dirty_files),
            deps=digests,
            dirty_files=sorted(dirty_files) or None,
        )
    finally:
        repo.close()
