"""The output cache on real files: digests checked on store, listings checked on
read, and restores that never write outside the repository."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from auditpipe.cache import LocalObjectStore, OutputCache, Product
from auditpipe.errors import CacheError
from auditpipe.fingerprint import fingerprint


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "out").mkdir(parents=True)
    return root


@pytest.fixture
def cache(tmp_path: Path) -> OutputCache:
    store = LocalObjectStore(tmp_path / "cache", ("hardlink", "copy"))
    return OutputCache(store, tmp_path / "cache")


def product(root: Path, rel: str) -> Product:
    fp = fingerprint(str(root / rel), root=root)
    return Product(rel, fp.kind, fp.sha256)


def test_store_checks_the_digest_it_was_given(repo: Path, cache: OutputCache) -> None:
    (repo / "out/a.txt").write_bytes(b"real\n")
    with pytest.raises(CacheError, match="changed while it was being stored"):
        cache.keep(repo, Product("out/a.txt", "file", sha(b"claimed\n")))
    assert not cache.store.has(sha(b"claimed\n"))
    assert list(cache.store.ids()) == []


def test_directory_round_trip_with_link(repo: Path, cache: OutputCache) -> None:
    (repo / "out/d/sub").mkdir(parents=True)
    (repo / "out/d/a.txt").write_bytes(b"a")
    (repo / "out/d/sub/b.txt").write_bytes(b"b")
    os.symlink("a.txt", repo / "out/d/link")
    wanted = product(repo, "out/d")
    cache.keep(repo, wanted, move=True)
    assert not (repo / "out/d").exists()
    cache.restore(repo, [wanted])
    assert product(repo, "out/d") == wanted
    assert os.readlink(repo / "out/d/link") == "a.txt"


def test_a_forged_listing_never_restores(repo: Path, cache: OutputCache, tmp_path: Path) -> None:
    (repo / "out/d").mkdir()
    (repo / "out/d/a.txt").write_bytes(b"a")
    wanted = product(repo, "out/d")
    cache.keep(repo, wanted, move=True)
    # Point the directory's index at a listing that escapes the repository.
    forged = json.dumps({"entries": [{"path": "../../evil", "sha256": sha(b"a"), "size": 1}]})
    oid = cache.store.add_bytes(forged.encode())
    index = tmp_path / "cache/dirs" / wanted.sha256[:2] / wanted.sha256[2:]
    index.write_text(oid + "\n")
    with pytest.raises(CacheError):
        cache.restore(repo, [wanted])
    assert not (repo.parent / "evil").exists()


@pytest.mark.parametrize("rel", ["../x.txt", "/etc/x.txt", ".git/hooks/pre-commit", "a/../../x"])
def test_product_paths_that_leave_the_repository_are_refused(
    repo: Path, cache: OutputCache, rel: str
) -> None:
    (repo / "out/a.txt").write_bytes(b"a")
    cache.keep(repo, product(repo, "out/a.txt"))
    with pytest.raises(CacheError, match="refusing to restore"):
        cache.restore(repo, [Product(rel, "file", sha(b"a"))])


def test_restore_writes_all_or_nothing(repo: Path, cache: OutputCache) -> None:
    (repo / "out/a.txt").write_bytes(b"a")
    kept = product(repo, "out/a.txt")
    cache.keep(repo, kept, move=True)
    with pytest.raises(CacheError, match=r"not in the cache: out/b\.txt"):
        cache.restore(repo, [kept, Product("out/b.txt", "file", sha(b"never stored"))])
    assert not (repo / "out/a.txt").exists()


def test_set_aside_is_recorded_and_findable(repo: Path, cache: OutputCache) -> None:
    (repo / "out/hand.txt").write_bytes(b"by hand")
    moved = cache.set_aside(repo, product(repo, "out/hand.txt"))
    assert not (repo / "out/hand.txt").exists()
    assert Path(moved.where).read_bytes() == b"by hand"
    assert cache.set_aside_records() == [moved]
