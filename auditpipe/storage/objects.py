"""Fingerprints of objects and prefixes on object stores: which path reads each store.

``s3://`` goes through boto3 when it is installed (``s3objects``: one listing
per prefix, ETag and version id recorded, a metadata cache, GETs pinned to the
ETag). Every other store (gs, abfs, hdfs) -- and S3 without boto3, said once --
goes through ``pyarrow.fs``: the same fingerprint code as local files, given a
``pyarrow.fs`` filesystem, with (size, last-modified) as the change check and
no ETag. A prefix is fingerprinted like a directory; a missing object is
simply absent, as a missing local file is.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO, cast

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint import Fingerprint, fingerprint_many
from auditpipe.fingerprint.fs import ArrowFileSystem

log = logging.getLogger(__name__)
_warned: list[bool] = []

# Each read of a pyarrow S3 stream is one ranged GET: read big so a large object
# costs a few requests, not one per MiB (1 MiB reads were ~70x slower than a GET).
READ_BYTES = 64 << 20


class _Readahead(io.RawIOBase):
    """A ``pyarrow`` input stream read in ``READ_BYTES`` requests, served in any size."""

    def __init__(self, stream: Any) -> None:
        self._stream, self._buffer, self._at = stream, memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._at >= len(self._buffer):
            self._buffer, self._at = memoryview(self._stream.read(READ_BYTES)), 0
        end = len(self._buffer) if size < 0 else self._at + size
        chunk = bytes(self._buffer[self._at : end])  # a view: no copy of the rest
        self._at += len(chunk)
        return chunk

    def close(self) -> None:
        self._stream.close()
        super().close()


class _ObjectStore(ArrowFileSystem):
    def open_input(self, path: str) -> BinaryIO:
        return cast(BinaryIO, _Readahead(super().open_input(path)))


def _open(url: str) -> tuple[Any, str]:
    """The ``pyarrow.fs`` filesystem for ``url`` and the object's path within it."""
    import pyarrow.fs

    try:
        fs, path = pyarrow.fs.FileSystem.from_uri(url)
    except (OSError, ValueError) as exc:
        raise FingerprintError(
            f"cannot open the object store: {exc}",
            path=url,
            hint="check the URL and the store's credentials (for S3: AWS_* variables)",
        ) from exc
    return fs, path


def _arrow_exists(url: str) -> bool:
    """True when ``url`` names an object or a non-empty prefix."""
    import pyarrow.fs

    fs, path = _open(url)
    try:
        info = fs.get_file_info(path)
    except OSError as exc:
        raise FingerprintError(f"cannot reach the object store: {exc}", path=url) from exc
    return bool(info.type != pyarrow.fs.FileType.NotFound)


def _arrow_fingerprints(urls: Sequence[str], content: bool) -> dict[str, Fingerprint]:
    found: dict[str, Fingerprint] = {}
    for url in urls:
        if not _arrow_exists(url):
            continue
        fs, path = _open(url)
        try:
            (fp,) = fingerprint_many([path], fs=_ObjectStore(fs), content=content)
        except OSError as exc:
            raise FingerprintError(f"cannot read the object: {exc}", path=url) from exc
        found[url] = dataclasses.replace(fp, path=url)
    return found


def _arrow_snapshot(urls: Sequence[str]) -> dict[str, object]:
    import pyarrow.fs

    seen: dict[str, object] = {}
    for url in urls:
        fs, path = _open(url)
        try:
            info = fs.get_file_info(path)
        except OSError as exc:
            raise FingerprintError(f"cannot reach the object store: {exc}", path=url) from exc
        if info.type == pyarrow.fs.FileType.NotFound:
            seen[url] = None
        else:
            seen[url] = (int(info.size or 0), int(info.mtime_ns or 0))
    return seen


def arrow_store(url: str) -> ArrowFileSystem:
    """The ``pyarrow.fs`` filesystem of ``url``, read in large requests."""
    return _ObjectStore(_open(url)[0])


def _boto3_urls(urls: Sequence[str]) -> tuple[list[str], list[str]]:
    """(URLs read through boto3, the rest): s3 URLs go to boto3 when it is installed."""
    s3_urls = [u for u in urls if u.startswith("s3://")]
    if not s3_urls:
        return [], list(urls)
    try:
        from auditpipe.storage import s3

        s3.client()
    except ImportError:
        if not _warned:
            _warned.append(True)
            log.warning(
                "boto3 is not installed (pip install 'auditpipe[s3]'): s3:// objects are read "
                "through pyarrow.fs, checked by (size, last-modified), without ETag or version id"
            )
        return [], list(urls)
    return s3_urls, [u for u in urls if not u.startswith("s3://")]


def fingerprint_urls(
    urls: Sequence[str], *, content: bool = False, state_dir: Path | None = None
) -> dict[str, Fingerprint]:
    """Fingerprints of the URLs that exist, keyed by URL (missing ones are absent).

    ``state_dir`` (the repository's ``.git/auditpipe``) holds the object
    metadata cache; without it every object is read again."""
    via_boto3, via_arrow = _boto3_urls(urls)
    found = _arrow_fingerprints(via_arrow, content) if via_arrow else {}
    if via_boto3:
        from auditpipe.storage.metacache import ObjectCache
        from auditpipe.storage.s3objects import fingerprint_s3

        cache = ObjectCache(state_dir)
        try:
            found.update(fingerprint_s3(via_boto3, content=content, cache=cache))
        finally:
            cache.close()
    return found


def listed_once(paths: Sequence[str]) -> AbstractContextManager[None]:
    """A block in which this thread lists each S3 prefix once (``s3objects.listed_once``);
    nothing when ``paths`` name no ``s3://`` URL read through boto3."""
    if not any(p.startswith("s3://") for p in paths) or not _boto3_urls(paths)[0]:
        return nullcontext()
    from auditpipe.storage.s3objects import listed_once as scope

    return scope()


def exists(url: str) -> bool:
    """True when ``url`` names an object or a non-empty prefix."""
    return snapshot([url])[url] is not None


def snapshot(urls: Sequence[str]) -> dict[str, object]:
    """What each URL names now (None when absent), to see it change under us: the
    (key, size, ETag) of each object through boto3, else (size, last-modified)."""
    via_boto3, via_arrow = _boto3_urls(urls)
    seen = _arrow_snapshot(via_arrow) if via_arrow else {}
    if via_boto3:
        from auditpipe.storage.s3objects import state

        seen.update(state(via_boto3))
    return seen


def changed(before: dict[str, object]) -> list[str]:
    """The URLs of ``before`` that name other bytes (or nothing) now."""
    now = snapshot(list(before))
    return [url for url, was in before.items() if now[url] != was]
