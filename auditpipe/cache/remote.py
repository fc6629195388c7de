"""An object store as the remote output cache (``s3://bucket/prefix``), through ``pyarrow.fs``.

The remote is untrusted storage. Objects are written content-addressed under
``<prefix>/sha256/<aa>/<rest>`` and never overwritten (an object already there
is left alone); directory listings under ``<prefix>/dirs/<aa>/<rest>``, keyed by
the directory's Merkle digest. Every byte read back is hashed and compared with
the digest the caller trusts before it is handed on: a mismatch is
``ObjectMismatch`` and nothing is written. S3 is tested (a moto server);
``gs://``, ``abfs://`` and ``hdfs://`` go through the same ``pyarrow.fs`` calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auditpipe.cache.interface import LinkType, ObjectStore
from auditpipe.errors import CacheError, ObjectMismatch, RemoteCacheError
from auditpipe.storage.urls import normalize_url

_BLOCK = 8 << 20  # each read of a pyarrow S3 stream is a ranged GET: read big


def _reason(exc: OSError) -> str:
    """pyarrow's message, minus the AWS SDK's curl details."""
    text = str(exc).split("; Details:")[0]
    return text.replace("\n", " ")


class RemoteObjectStore(ObjectStore):
    """Content-addressed objects under an object-store URL (the remote cache)."""

    def __init__(self, url: str, *, fs: Any = None) -> None:
        try:
            self.url = normalize_url(url)
        except ValueError as exc:
            raise RemoteCacheError(
                f"the remote cache {url!r} {exc}",
                hint="write it as s3://bucket/prefix (or gs://, abfs://, hdfs://)",
            ) from exc
        self._fs = fs
        self._base = ""

    # -- the filesystem -----------------------------------------------------------

    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None or not self._base:
            import pyarrow.fs

            try:
                fs, base = pyarrow.fs.FileSystem.from_uri(self.url)
            except (OSError, ValueError) as exc:
                raise self._unreachable(exc) from exc
            self._fs = self._fs or fs
            self._base = base.rstrip("/")
        return self._fs, self._base

    def _unreachable(self, exc: BaseException) -> RemoteCacheError:
        text = _reason(exc) if isinstance(exc, OSError) else str(exc)
        lowered = text.lower().replace("_", " ")  # the AWS SDK says ACCESS_DENIED
        if "access denied" in lowered or "forbidden" in lowered or "403" in lowered:
            hint = "check the credentials for it (for S3: AWS_* variables or a profile)"
        elif "no such bucket" in lowered or "nosuchbucket" in lowered:
            hint = "create the bucket, or fix `cache: remote:` in auditpipe.yaml"
        else:
            hint = "check the URL, the network and the store's endpoint (AWS_ENDPOINT_URL)"
        return RemoteCacheError(f"the remote cache {self.url} cannot be used: {text}", hint=hint)

    def _key(self, oid: str, kind: str = "sha256") -> str:
        _fs, base = self._filesystem()
        return f"{base}/{kind}/{oid[:2]}/{oid[2:]}"

    def where(self, oid: str) -> str:
        return f"{self.url}/sha256/{oid[:2]}/{oid[2:]}"

    def listing_where(self, digest: str) -> str:
        return f"{self.url}/dirs/{digest[:2]}/{digest[2:]}"

    def check(self) -> None:
        """Raise ``RemoteCacheError`` unless the store answers (bucket there, access allowed)."""
        import pyarrow.fs

        fs, base = self._filesystem()
        bucket = base.split("/", 1)[0]
        try:
            info = fs.get_file_info(bucket)
        except OSError as exc:
            raise self._unreachable(exc) from exc
        if info.type == pyarrow.fs.FileType.NotFound:
            raise RemoteCacheError(
                f"the remote cache {self.url} cannot be used: bucket {bucket!r} does not exist",
                hint="create the bucket, or fix `cache: remote:` in auditpipe.yaml",
            )

    # -- the ObjectStore interface ----------------------------------------------------

    def _exists(self, key: str) -> bool:
        import pyarrow.fs

        fs, _base = self._filesystem()
        try:
            return bool(fs.get_file_info(key).type == pyarrow.fs.FileType.File)
        except OSError as exc:
            raise self._unreachable(exc) from exc

    def has(self, oid: str) -> bool:
        return self._exists(self._key(oid))

    def has_listing(self, digest: str) -> bool:
        return self._exists(self._key(digest, "dirs"))

    def _put(self, key: str, chunks: Iterator[bytes]) -> None:
        """Write ``key`` unless it exists; objects are immutable, never overwritten.

        An object-store PUT appears whole or not at all, so no reader sees a
        partial object; a racing writer of the same key writes the same bytes.
        """
        if self._exists(key):
            return
        fs, _base = self._filesystem()
        try:
            with fs.open_output_stream(key) as stream:
                for chunk in chunks:
                    stream.write(chunk)
        except OSError as exc:
            raise self._unreachable(exc) from exc

    def add(self, source: Path, oid: str | None = None, *, move: bool = False) -> str:
        del move  # the remote never takes a working file; it gets a copy of the bytes
        digest = oid or _sha256_file(source)

        def chunks() -> Iterator[bytes]:
            with open(source, "rb") as handle:
                while block := handle.read(_BLOCK):
                    yield block

        self._put(self._key(digest), chunks())
        return digest

    def add_bytes(self, data: bytes) -> str:
        oid = hashlib.sha256(data).hexdigest()
        self._put(self._key(oid), iter([data]))
        return oid

    def add_listing(self, digest: str, data: bytes) -> None:
        """Store a directory's listing under its Merkle digest (checked by whoever reads it)."""
        self._put(self._key(digest, "dirs"), iter([data]))

    def _read(self, key: str, where: str) -> Iterator[bytes]:
        fs, _base = self._filesystem()
        try:
            with fs.open_input_stream(key) as stream:
                while block := stream.read(_BLOCK):
                    yield block
        except FileNotFoundError as exc:
            raise CacheError(f"not in the remote cache: {where}") from exc
        except OSError as exc:
            if "NoSuchKey" in str(exc) or "Path does not exist" in str(exc):
                raise CacheError(f"not in the remote cache: {where}") from exc
            raise self._unreachable(exc) from exc

    def read_listing(self, digest: str) -> bytes:
        """A directory listing's bytes, unchecked (the caller checks the Merkle digest)."""
        return b"".join(self._read(self._key(digest, "dirs"), self.listing_where(digest)))

    def read_bytes(self, oid: str) -> bytes:
        data = b"".join(self._read(self._key(oid), self.where(oid)))
        found = hashlib.sha256(data).hexdigest()
        if found != oid:
            raise ObjectMismatch(self.where(oid), oid, found)
        return data

    def download(self, oid: str, dest: Path) -> None:
        """Write the object to ``dest`` (which must not exist) only if its bytes hash to ``oid``.

        The bytes go to a temporary file beside ``dest`` and are hashed on the way;
        on a mismatch the file is removed and ``ObjectMismatch`` raised, so the
        wrong bytes never appear at ``dest``.
        """
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        try:
            with open(tmp, "xb") as out:
                for block in self._read(self._key(oid), self.where(oid)):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != oid:
                raise ObjectMismatch(self.where(oid), oid, digest.hexdigest())
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def place(self, oid: str, dest: Path) -> LinkType:
        self.download(oid, dest)
        return "copy"

    def ids(self) -> Iterator[str]:
        import pyarrow.fs

        fs, base = self._filesystem()
        try:
            infos = fs.get_file_info(pyarrow.fs.FileSelector(f"{base}/sha256", recursive=True))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._unreachable(exc) from exc
        for info in sorted(infos, key=lambda i: i.path):
            if info.type == pyarrow.fs.FileType.File:
                parts = info.path.rsplit("/", 2)
                yield parts[-2] + parts[-1]

    def remove(self, oid: str) -> int:
        fs, _base = self._filesystem()
        key = self._key(oid)
        try:
            size = int(fs.get_file_info(key).size or 0)
            fs.delete_file(key)
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise self._unreachable(exc) from exc
        return size


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
