"""Shared fixtures: real git repositories built inline, and the CLI run in-process.

``project`` is a fresh git repository (one commit, ``auditpipe init`` done) with
its own config dir for keys; ``cli("log", "--json")`` runs the real CLI entry
point in that repository and returns exit code, stdout and stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditpipe.cli import main

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run the real git binary and return its stdout."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@dataclass
class Project:
    root: Path
    config_dir: Path

    def gen(self, files: dict[str, str | bytes]) -> None:
        for rel, content in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.root, *args, check=check)

    def commit(self, message: str = "work") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    monkeypatch.setenv("AUDITPIPE_CONFIG_DIR", str(config))
    monkeypatch.delenv("AUDITPIPE_PASSPHRASE", raising=False)
    monkeypatch.delenv("AUDITPIPE_KEY", raising=False)
    monkeypatch.delenv("AUDITPIPE_TRUST_REF", raising=False)
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return config


@pytest.fixture
def bare_repo(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A git repository with one commit, not yet initialized for auditpipe."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    project = Project(root=root, config_dir=isolated_env)
    project.gen({"README.md": "demo\n", "data/raw.csv": "a,b\n1,2\n", "src/train.py": "print(1)\n"})
    project.commit("initial")
    monkeypatch.chdir(root)
    return project


@pytest.fixture
def project(bare_repo: Project, cli: Callable[..., Result]) -> Project:
    """A repository after ``auditpipe init`` (ledger branch, key, trust)."""
    result = cli("init")
    assert result.code == 0, result.err
    bare_repo.commit("auditpipe init")
    return bare_repo


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Result]]:
    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run


def run_auditpipe(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``python -m auditpipe`` as a real subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "auditpipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
