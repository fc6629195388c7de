"""The user's git repository: discovery, and auditpipe's private state inside ``.git``.

auditpipe never touches the user's git index or checked-out branch, and of the
working tree only ``auditpipe.lock`` (see ``auditpipe.lock``); its own state
(last verified ledger head and checkpoint, stat cache, locks) lives under
``.git/auditpipe/``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.repo import Repo

from auditpipe.errors import RepositoryError


@dataclass(frozen=True)
class Workspace:
    """A non-bare git repository with a working tree."""

    root: Path
    git_dir: Path

    @classmethod
    def discover(cls, start: Path | str = ".") -> Workspace:
        """Find the repository containing ``start`` (walking up, like git)."""
        start_path = Path(start).resolve()
        try:
            repo = Repo.discover(str(start_path))
        except NotGitRepository:
            raise RepositoryError(
                f"not a git repository (or any parent up to /): {start_path}",
                hint="run auditpipe inside a git clone, or create one with `git init`",
            ) from None
        with repo:
            if repo.bare:
                raise RepositoryError(
                    f"{repo.path} is a bare repository",
                    hint="auditpipe records runs from a working tree; run it in a clone",
                )
            root = Path(repo.path).resolve()
            git_dir = Path(repo.controldir()).resolve()
            common = Path(repo.commondir()).resolve()
        # In a linked worktree the ledger ref and objects live in the common dir.
        return cls(root=root, git_dir=common if common != git_dir else git_dir)

    def open(self) -> Repo:
        """A fresh dulwich Repo handle (callers close it)."""
        try:
            return Repo(str(self.root))
        except NotGitRepository as exc:
            raise RepositoryError(f"not a git repository: {self.root}") from exc

    @property
    def state_dir(self) -> Path:
        """``.git/auditpipe``: created on first use."""
        path = self.git_dir / "auditpipe"
        path.mkdir(exist_ok=True)
        return path

    def relative(self, path: Path | str) -> str:
        """A repo-relative POSIX path; refuses paths outside the repository."""
        absolute = Path(os.path.abspath(Path(path)))
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            raise RepositoryError(
                f"{path} is outside the repository {self.root}",
                hint="auditpipe records paths inside the repository only",
            ) from None


_REV_SUFFIX = re.compile(r"(~|\^)(\d*)")


def resolve_revision(repo: Repo, spec: str) -> str:
    """A commit id for ``spec``: a sha, branch, tag or HEAD, with ``~N`` / ``^N`` suffixes.

    dulwich resolves the base name; the ancestry suffixes are walked here.
    Raises ``RepositoryError`` when it names no commit.
    """
    from dulwich.objects import Commit
    from dulwich.objectspec import parse_commit

    cut = min((i for i in (spec.find("~"), spec.find("^")) if i >= 0), default=len(spec))
    base, suffixes = spec[:cut], spec[cut:]
    try:
        commit = parse_commit(repo, base.encode())
        pos = 0
        while pos < len(suffixes):
            match = _REV_SUFFIX.match(suffixes, pos)
            if match is None:
                raise KeyError(spec)
            count = int(match.group(2) or 1)
            steps = [0] * count if match.group(1) == "~" else ([count - 1] if count else [])
            for parent in steps:
                found = repo[commit.parents[parent]]
                if not isinstance(found, Commit):
                    raise KeyError(spec)
                commit = found
            pos = match.end()
    except (KeyError, IndexError, ValueError):
        raise RepositoryError(
            f"{spec!r} is not a commit in this repository",
            hint="use a commit id, branch, tag or HEAD, optionally with ~N or ^N",
        ) from None
    return bytes(commit.id).decode()
