"""Fixtures for fingerprint tests: directory trees written inline, real binaries on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    """Create ``files`` (relative path -> content) under ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def age(path: Path, seconds: float = 3600) -> None:
    """Set the mtime of ``path`` (and everything under it) ``seconds`` into the past.

    Files written just now are "racy" for the stat cache (within 2 s of caching) and
    are always re-hashed; ageing them lets a test see the cache at work.
    """
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in paths:
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def sha256sum(path: Path) -> str:
    """The digest the real ``sha256sum`` binary prints."""
    assert shutil.which("sha256sum"), "coreutils sha256sum is required"
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small repository-like tree: files, a subdirectory, an in-tree symlink, a .git."""
    root = write_tree(
        tmp_path / "repo",
        {
            "data/a.txt": "alpha\n",
            "data/sub/b.bin": bytes(range(256)) * 10,
            "data/empty": b"",
            ".git/HEAD": "ref: refs/heads/main\n",
        },
    )
    (root / "data" / "link").symlink_to("a.txt")
    return root
