"""Fingerprints of ``s3://`` objects and prefixes: one listing per prefix, cache, pinned reads.

A set of URLs is resolved with one paginated ``list_objects_v2`` per distinct
parent prefix (not one HEAD per object): a URL is an object when its key is
listed, a prefix (fingerprinted like a directory) when keys lie under it, and
missing otherwise. Each object's digest comes from the metadata cache when
(size, ETag, last-modified) are unchanged, else from one GET pinned to the
listed ETag. Tables get their profile through ``pyarrow.fs`` (Parquet: from
the footer, by ranged reads, never the whole object), checked afterwards
against the same ETag; the profile is cached by the byte digest.
"""

from __future__ import annotations

import dataclasses
import posixpath
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from auditpipe.fingerprint import formats
from auditpipe.fingerprint.fs import FileStat
from auditpipe.fingerprint.model import Fingerprint, TableInfo
from auditpipe.fingerprint.tree import Entry, entry_line, merkle_digest
from auditpipe.storage import s3
from auditpipe.storage.metacache import ObjectCache
from auditpipe.storage.s3 import ObjectInfo, ObjectStoreError

HASH_THREADS = 8
# Bump when a profile's content or its computation changes (as the local one).
_TABLE_VARIANT = "s3:1"


@dataclass(frozen=True)
class Resolved:
    """What one URL names now: a single object, the objects under a prefix, or nothing."""

    url: str
    bucket: str
    key: str
    objects: tuple[ObjectInfo, ...]
    is_prefix: bool


def split(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> (``bucket``, ``a/b``)."""
    bucket, _, key = url.split("://", 1)[1].partition("/")
    return bucket, key


def _listing_prefixes(keys: Sequence[str]) -> list[str]:
    """The fewest listings that cover every key and everything under it."""
    parents = sorted({posixpath.dirname(k) + "/" if "/" in k else "" for k in keys})
    kept: list[str] = []
    for parent in parents:
        if not any(parent.startswith(done) for done in kept):
            kept.append(parent)
    return kept


_scope = threading.local()


@contextmanager
def listed_once() -> Iterator[None]:
    """Inside the block, this thread lists each (bucket, prefix) once and reuses it.

    For a stage's deps, the snapshot taken before hashing and the assessment that
    hashes them: the digests are then pinned (``IfMatch``) to the very ETags the
    after-run check compares against. That check runs outside the block and lists
    again, as it must."""
    outer = getattr(_scope, "listings", None)
    _scope.listings = {} if outer is None else outer
    try:
        yield
    finally:
        _scope.listings = outer


def _list(bucket: str, prefix: str, shown: str) -> dict[str, ObjectInfo]:
    memo: dict[tuple[str, str], dict[str, ObjectInfo]] | None = getattr(_scope, "listings", None)
    if memo is None:
        return s3.list_prefix(bucket, prefix, shown)
    if (bucket, prefix) not in memo:
        memo[bucket, prefix] = s3.list_prefix(bucket, prefix, shown)
    return memo[bucket, prefix]


def resolve(urls: Sequence[str]) -> dict[str, Resolved]:
    """Each URL's objects, from one listing per distinct parent prefix per bucket."""
    by_bucket: dict[str, list[str]] = {}
    for url in urls:
        bucket, key = split(url)
        by_bucket.setdefault(bucket, []).append(key)
    resolved: dict[str, Resolved] = {}
    for bucket, keys in by_bucket.items():
        listed: dict[str, ObjectInfo] = {}
        for prefix in _listing_prefixes(keys):
            wanted = [f"s3://{bucket}/{k}" for k in keys if k.startswith(prefix)]
            shown = ", ".join(wanted[:3]) + (
                f" (and {len(wanted) - 3} more)" if len(wanted) > 3 else ""
            )
            listed.update(_list(bucket, prefix, shown))
        ordered = sorted(listed)
        for key in keys:
            url = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
            if key in listed:
                resolved[url] = Resolved(url, bucket, key, (listed[key],), False)
                continue
            under = key.rstrip("/") + "/" if key else ""
            inside = tuple(
                listed[k] for k in ordered if k.startswith(under) and not k.endswith("/")
            )
            resolved[url] = Resolved(url, bucket, key, inside, True)
    return resolved


def state(urls: Sequence[str]) -> dict[str, tuple[tuple[str, int, str, int], ...] | None]:
    """(key, size, ETag, last-modified) of every object each URL names now (None: none).

    Last-modified too: bytes rewritten and then restored end with the ETag they began
    with, but a reader in between may have read the other bytes."""
    return {
        url: tuple((o.key, o.size, o.etag, o.modified_ns) for o in found.objects) or None
        for url, found in resolve(urls).items()
    }


def _digests(
    bucket_objects: list[tuple[str, ObjectInfo]], cache: ObjectCache
) -> dict[str, tuple[str, str | None]]:
    """(sha256, version id) of each object URL, from the cache or one pinned GET each."""
    wanted = {f"s3://{bucket}/{o.key}": o for bucket, o in bucket_objects}
    known = cache.lookup_many(wanted)
    todo = [(bucket, o) for bucket, o in bucket_objects if f"s3://{bucket}/{o.key}" not in known]
    if todo:
        with ThreadPoolExecutor(min(HASH_THREADS, len(todo))) as pool:
            hashed = list(pool.map(lambda job: s3.hash_object(*job), todo))
        for (bucket, info), (sha256, version) in zip(todo, hashed, strict=True):
            url = f"s3://{bucket}/{info.key}"
            cache.store(url, info, sha256, version)
            known[url] = (sha256, version)
    return known


def fingerprint_s3(
    urls: Sequence[str], *, content: bool, cache: ObjectCache
) -> dict[str, Fingerprint]:
    """Fingerprints of the URLs that name something (missing ones are absent)."""
    found = {u: r for u, r in resolve(urls).items() if r.objects}
    jobs = {(r.bucket, o.key): o for r in found.values() for o in r.objects}
    digests = _digests([(bucket, o) for (bucket, _key), o in jobs.items()], cache)
    result: dict[str, Fingerprint] = {}
    for url, r in found.items():
        if not r.is_prefix:
            (info,) = r.objects
            sha256, version = digests[url]
            fp = Fingerprint(url, "file", sha256, info.size, etag=info.etag, version_id=version)
            fmt = formats.file_format(r.key)
            entries: list[Entry] = []
        else:
            under = r.key.rstrip("/") + "/" if r.key else ""
            entries = [
                Entry(o.key[len(under) :], f"{r.bucket}/{o.key}", FileStat("file", o.size, 0))
                for o in r.objects
            ]
            lines = [
                (
                    e.rel,
                    entry_line(e.rel, digests[f"s3://{e.path}"][0], e.stat.size, link=False),
                    e.stat.size,
                )
                for e in entries
            ]
            digest, total, count = merkle_digest(lines)
            fp = Fingerprint(url, "directory", digest, total, files=count)
            data = formats.dataset_files(entries)
            fmt, entries = (formats.PARQUET_DATASET, data) if data is not None else (None, [])
        if fmt is not None:
            table = _profile(r, fmt, fp.sha256, entries, content, cache)
            fp = dataclasses.replace(fp, table=table)
        result[url] = fp
    return result


def _profile(
    r: Resolved,
    fmt: str,
    sha256: str,
    entries: Sequence[Entry],
    content: bool,
    cache: ObjectCache,
) -> TableInfo:
    """The table profile (cached by byte digest), read where the ETags still match."""
    variant = f"{fmt}:{'content' if content else 'meta'}:{_TABLE_VARIANT}"
    hit = cache.get_table(sha256, variant)
    if hit is not None:
        try:
            return TableInfo.from_dict(hit)
        except (KeyError, TypeError, ValueError):
            pass
    from auditpipe.storage.objects import arrow_store

    fs = arrow_store(r.url)
    from auditpipe.fingerprint import table

    path = f"{r.bucket}/{r.key}".rstrip("/")
    info = table.describe(fs, fmt, path, r.url, files=entries, content=content)
    # pyarrow's ranged reads are not pinned to an ETag: check nothing moved meanwhile.
    for obj in r.objects:
        now = s3.head(r.bucket, obj.key)
        if now is None or now.etag != obj.etag:
            raise ObjectStoreError(
                f"changed or vanished while its table profile was read (ETag {obj.etag})",
                path=f"s3://{r.bucket}/{obj.key}",
                hint="run again once the data is stable; nothing was recorded",
            )
    cache.put_table(sha256, variant, info.to_dict())
    return info
