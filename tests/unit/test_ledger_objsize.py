"""A git object's size from its header: loose, packed whole, and packed as a delta.

Sizes are compared with ``git cat-file -s`` on a real repository; the large
object is never inflated to get them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dulwich.repo import Repo

from auditpipe.ledger.objsize import object_size, read_loose_bounded
from tests.conftest import GIT_ENV


def _git(root: Path, *args: str, data: bytes | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=root, input=data, capture_output=True, check=True, env=env
    )
    return done.stdout.decode().strip()


def test_sizes_match_git_for_loose_packed_and_delta_objects(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    base = bytes(range(256)) * 1024  # 256 KiB: similar blobs, so git stores deltas
    blobs = [
        _git(tmp_path, "hash-object", "-w", "--stdin", data=base + bytes([n]) * (n + 1))
        for n in range(3)
    ]
    objects = str(tmp_path / ".git" / "objects")
    with Repo(str(tmp_path)) as repo:
        for sha in blobs:
            assert object_size(objects, repo.object_store, sha) == int(
                _git(tmp_path, "cat-file", "-s", sha)
            )
    listing = "".join(f"100644 blob {sha}\tf{n}\n" for n, sha in enumerate(blobs)).encode()
    tree = _git(tmp_path, "mktree", data=listing)
    commit = _git(tmp_path, "commit-tree", tree, "-m", "blobs", data=b"")
    _git(tmp_path, "update-ref", "refs/heads/main", commit)
    _git(tmp_path, "repack", "-adfq", "--window=10", "--depth=5")
    _git(tmp_path, "prune-packed")
    deltas = _git(
        tmp_path, "verify-pack", "-v", *map(str, (tmp_path / ".git/objects/pack").glob("*.idx"))
    )
    assert any(line.split()[0] in blobs and len(line.split()) > 5 for line in deltas.splitlines())
    with Repo(str(tmp_path)) as repo:
        for sha in blobs:
            assert read_loose_bounded(f"{objects}/{sha[:2]}/{sha[2:]}", 10) is None  # packed now
            assert object_size(objects, repo.object_store, sha) == int(
                _git(tmp_path, "cat-file", "-s", sha)
            )


def test_a_large_loose_object_is_sized_from_its_header(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    sha = _git(tmp_path, "hash-object", "-w", "--stdin", data=b"x" * (20 * 1024 * 1024))
    path = tmp_path / ".git" / "objects" / sha[:2] / sha[2:]
    assert read_loose_bounded(str(path), 16 * 1024 * 1024) == (20 * 1024 * 1024, None)
    small = _git(tmp_path, "hash-object", "-w", "--stdin", data=b"hello\n")
    assert read_loose_bounded(str(tmp_path / ".git/objects" / small[:2] / small[2:]), 100) == (
        6,
        b"hello\n",
    )
