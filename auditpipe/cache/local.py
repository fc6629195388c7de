"""A local directory as the object store (default ``.git/auditpipe/cache``).

Objects live at ``sha256/<first two hex>/<the rest>``, read-only. Bytes are
written to ``tmp/`` first, hashed there, and renamed into place, so a reader
never sees a partial or unverified object. Placing an object in the working
tree tries the configured link types in order, like DVC's ``cache.type``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from auditpipe.cache.interface import LinkType, ObjectStore
from auditpipe.errors import CacheError

_FICLONE = 0x40049409  # Linux ioctl: share the source's extents (btrfs, xfs, ...)
_BLOCK = 1 << 20
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def reflink(source: Path, dest: Path) -> None:
    """Copy-on-write clone; ``OSError`` where the filesystem cannot."""
    import fcntl

    with open(source, "rb") as src, open(dest, "xb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        except OSError:
            dst.close()
            dest.unlink()
            raise


def link_or_copy(source: Path, dest: Path, how: LinkType) -> None:
    """Make ``dest`` hold ``source``'s bytes one way; ``OSError`` if that way fails."""
    if how == "reflink":
        reflink(source, dest)
    elif how == "hardlink":
        os.link(source, dest)
    elif how == "symlink":
        os.symlink(source, dest)
    else:
        shutil.copyfile(source, dest)


class LocalObjectStore(ObjectStore):
    """Objects in a local directory."""

    def __init__(self, root: Path, link_types: tuple[LinkType, ...] = ("reflink", "copy")) -> None:
        self.root = root
        self.link_types = link_types or ("copy",)

    def path(self, oid: str) -> Path:
        return self.root / "sha256" / oid[:2] / oid[2:]

    def where(self, oid: str) -> str:
        return str(self.path(oid))

    def has(self, oid: str) -> bool:
        return self.path(oid).is_file()

    def _tmp(self) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp / uuid.uuid4().hex

    def add(self, source: Path, oid: str | None = None, *, move: bool = False) -> str:
        if oid is not None and not move and self.has(oid):
            return oid  # verified when it was stored
        tmp = self._tmp()
        try:
            if move:
                try:
                    os.rename(source, tmp)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    shutil.copyfile(source, tmp)
                    source.unlink()
            else:
                self._take(source, tmp)
            found = _sha256(tmp)
            if oid is not None and found != oid:
                if move:
                    os.rename(tmp, source)
                raise CacheError(
                    f"{source} changed while it was being stored "
                    f"(expected sha256 {oid[:12]}, found {found[:12]})",
                    hint="do not modify outputs while auditpipe stores them; run again",
                )
            target = self.path(found)
            if target.is_file():
                tmp.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, _READ_ONLY)
                os.replace(tmp, target)
            return found
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise CacheError(f"cannot store {source} in the cache {self.root}: {exc}") from exc

    def _take(self, source: Path, tmp: Path) -> None:
        """Bring the bytes in the cheapest configured way (a symlink never counts)."""
        for how in self.link_types:
            if how == "symlink":
                continue
            try:
                link_or_copy(source, tmp, how)
                return
            except OSError:
                continue
        shutil.copyfile(source, tmp)

    def add_bytes(self, data: bytes) -> str:
        oid = hashlib.sha256(data).hexdigest()
        if not self.has(oid):
            tmp = self._tmp()
            tmp.write_bytes(data)
            self.add(tmp, oid, move=True)
        return oid

    def read_bytes(self, oid: str) -> bytes:
        try:
            data = self.path(oid).read_bytes()
        except OSError as exc:
            raise CacheError(f"cache object {oid[:12]} is missing: {exc.strerror}") from exc
        if hashlib.sha256(data).hexdigest() != oid:
            raise CacheError(
                f"cache object {oid[:12]} is damaged",
                path=self.path(oid),
                hint="delete it; the next run of its stage stores it again",
            )
        return data

    def place(self, oid: str, dest: Path) -> LinkType:
        source = self.path(oid)
        if not source.is_file():
            raise CacheError(f"cache object {oid[:12]} is missing", path=source)
        last: OSError | None = None
        for how in self.link_types:
            try:
                link_or_copy(source, dest, how)
            except OSError as exc:
                last = exc
                continue
            if how in ("reflink", "copy"):
                os.chmod(dest, 0o644)  # a working copy, not the object
            return how
        raise CacheError(f"cannot restore {dest} from the cache: {last}")

    def ids(self) -> Iterator[str]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for prefix in sorted(base.iterdir()):
            for item in sorted(prefix.iterdir()):
                yield prefix.name + item.name

    def remove(self, oid: str) -> int:
        path = self.path(oid)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size
