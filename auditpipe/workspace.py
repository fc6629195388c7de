"""The user's git repository: discovery, and auditpipe's private state inside ``.git``.

auditpipe never touches the user's working tree, index or checked-out branch;
its own state (last verified ledger head, stat cache, locks) lives under
``.git/auditpipe/``.
"""

from __future__ import annotations

import os
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
