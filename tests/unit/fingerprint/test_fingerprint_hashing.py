"""File digests: equal to sha256sum's, whatever the size, thread count or filesystem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyarrow import fs as pafs

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint import (
    ArrowFileSystem,
    HashCounter,
    NullObserver,
    fingerprint,
    fingerprint_many,
)
from auditpipe.fingerprint.hashing import BLOCK_SIZE
from tests.unit.fingerprint.conftest import sha256sum, write_tree

SIZES = [0, 1, 2047, 2048, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 17]


@pytest.mark.parametrize("size", SIZES)
def test_file_digest_equals_sha256sum(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(size))
    fp = fingerprint(path, root=tmp_path)
    assert fp.sha256 == sha256sum(path)
    assert fp.size == size
    assert fp.kind == "file"
    assert fp.path == "f.bin"


def test_parallel_and_single_thread_agree_with_sha256sum(tmp_path: Path) -> None:
    files = {f"d{i % 7}/f{i}.bin": os.urandom(i * 997 % 70_000) for i in range(300)}
    files["big.bin"] = os.urandom(9 * BLOCK_SIZE)  # a chunk of its own
    root = write_tree(tmp_path / "r", files)
    paths = sorted(root.rglob("*.bin"))
    one = fingerprint_many(paths, root=root, workers=1)
    many = fingerprint_many(paths, root=root, workers=4)
    assert [f.sha256 for f in one] == [f.sha256 for f in many]
    for path, fp in zip(paths, many, strict=True):
        assert fp.sha256 == sha256sum(path), path
        assert fp.path == path.relative_to(root).as_posix()


def test_every_file_is_hashed_once_even_when_listed_twice(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "r", {"d/a": "1", "d/b": "2"})
    counter = HashCounter()
    fingerprint_many([root / "d", root / "d" / "a"], root=root, observer=counter)
    assert counter.files == 2
    assert sorted(counter.paths) == ["d/a", "d/b"]


def test_pyarrow_filesystem_gives_the_same_digests(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "r", {"d/a.txt": "alpha\n", "d/x/b.bin": os.urandom(5000)})
    local = fingerprint(root / "d", root=root)
    arrow = fingerprint(str(root / "d"), root=str(root), fs=pafs.LocalFileSystem())
    assert (arrow.sha256, arrow.size, arrow.files) == (local.sha256, local.size, local.files)
    # An object-store-like filesystem with no local path at all.
    mem = pafs._MockFileSystem()
    mem.create_dir("bucket/d/x")
    with mem.open_output_stream("bucket/d/a.txt") as f:
        f.write(b"alpha\n")
    with mem.open_output_stream("bucket/d/x/b.bin") as f:
        f.write((root / "d/x/b.bin").read_bytes())
    remote = fingerprint("bucket/d", root="bucket", fs=ArrowFileSystem(mem))
    assert (remote.sha256, remote.size, remote.files) == (local.sha256, local.size, local.files)
    assert remote.path == "d"


def test_missing_path_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FingerprintError) as info:
        fingerprint(tmp_path / "nope.csv", root=tmp_path)
    assert info.value.path == "nope.csv"
    assert "no such file" in info.value.message


def test_path_outside_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "outside.txt").write_text("x")
    with pytest.raises(FingerprintError, match="outside the repository"):
        fingerprint(tmp_path / "outside.txt", root=tmp_path / "repo")


def test_plain_files_and_directories_never_import_pyarrow(tmp_path: Path) -> None:
    write_tree(tmp_path / "d", {"a.txt": "1", "s/b.txt": "2"})
    code = (
        "import sys\n"
        "import auditpipe.cli.fingerprint_cmd\n"
        "from auditpipe.fingerprint import fingerprint\n"
        f"fingerprint({str(tmp_path / 'd')!r})\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'pyarrow')\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


class RewriteBeforeHashing(NullObserver):
    """Rewrites a file after the directory was listed and before it is read."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data = path, data

    def on_start(self, total_bytes: int, phase: str) -> None:
        if phase == "hashing":
            self.path.write_bytes(self.data)
            os.utime(self.path, ns=(1, 1))  # a different mtime than the listing saw


@pytest.mark.parametrize("workers", [1, 2])
def test_file_changed_after_listing_is_hashed_as_it_is_now(tmp_path: Path, workers: int) -> None:
    root = write_tree(tmp_path / "r", {f"d/f{i}": f"{i}" * 100 for i in range(10)})
    victim = root / "d" / "f3"
    fp = fingerprint_many(
        [root / "d" / "f3", root / "d" / "f4"],
        root=root,
        workers=workers,
        observer=RewriteBeforeHashing(victim, b"new and longer content\n"),
    )[0]
    assert fp.sha256 == sha256sum(victim)
    assert fp.size == len(b"new and longer content\n")
