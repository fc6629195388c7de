"""The object metadata cache: a hit only for the very version hashed, never a failure."""

from __future__ import annotations

from pathlib import Path

from auditpipe.storage.metacache import ObjectCache
from auditpipe.storage.s3 import ObjectInfo
from auditpipe.storage.s3objects import _listing_prefixes, split

INFO = ObjectInfo("raw/a.csv", 12, "abc", 1_700_000_000_000_000_000)
URL = "s3://lake/raw/a.csv"


def test_a_hit_needs_the_same_size_etag_and_last_modified(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path)
    cache.store(URL, INFO, "f" * 64, "v1")
    assert cache.lookup(URL, INFO) == ("f" * 64, "v1")
    assert cache.lookup_many({URL: INFO}) == {URL: ("f" * 64, "v1")}
    for other in (
        ObjectInfo(INFO.key, 13, INFO.etag, INFO.modified_ns),
        ObjectInfo(INFO.key, INFO.size, "abd", INFO.modified_ns),
        ObjectInfo(INFO.key, INFO.size, INFO.etag, INFO.modified_ns + 1_000_000_000),
    ):
        assert cache.lookup(URL, other) is None
        assert cache.lookup_many({URL: other}) == {}
    cache.close()
    assert ObjectCache(tmp_path).lookup(URL, INFO) == ("f" * 64, "v1")  # persisted


def test_a_corrupt_cache_file_is_rebuilt_not_an_error(tmp_path: Path) -> None:
    (tmp_path / ObjectCache.FILE).write_bytes(b"not a database" * 100)
    cache = ObjectCache(tmp_path)
    assert cache.lookup(URL, INFO) is None
    cache.store(URL, INFO, "f" * 64, None)
    assert cache.lookup(URL, INFO) == ("f" * 64, None)
    assert ObjectCache(None).lookup(URL, INFO) is None


def test_one_listing_per_distinct_parent_prefix() -> None:
    keys = ["raw/a.csv", "raw/b.csv", "raw/sub/c.csv", "other/d", "raw"]
    assert _listing_prefixes(keys[:4]) == ["other/", "raw/"]
    assert _listing_prefixes(keys) == [""]  # a top-level key: the bucket is listed once
    assert split("s3://lake/raw/a.csv") == ("lake", "raw/a.csv")
    assert split("s3://lake") == ("lake", "")
