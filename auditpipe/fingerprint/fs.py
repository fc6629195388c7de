"""The filesystem seam: what fingerprinting needs from a filesystem, and two of them.

Owns the ``FileSystem`` protocol, ``LocalFileSystem`` (plain ``os`` calls, so
fingerprinting a directory never imports pyarrow), ``ArrowFileSystem`` (wraps
any ``pyarrow.fs.FileSystem``, e.g. S3, so object stores need no redesign) and
the translation of ``OSError`` into ``FingerprintError``.

Only the local filesystem reports symlinks, inodes and devices; the stat cache
is used only where ``stable_identity`` is true.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat as stat_mod
from typing import Any, BinaryIO, Literal, NamedTuple, Protocol, runtime_checkable

from auditpipe.errors import FingerprintError
from auditpipe.faults import describe

StatKind = Literal["file", "directory", "symlink", "fifo", "socket", "device", "other"]


class FileStat(NamedTuple):
    """``lstat`` of one path: never follows a symlink (a tuple: one is made per file)."""

    kind: StatKind
    size: int
    mtime_ns: int
    inode: int = 0
    device: int = 0


@runtime_checkable
class FileSystem(Protocol):
    """The operations fingerprinting performs; paths are the filesystem's own strings."""

    @property
    def stable_identity(self) -> bool:
        """True when (size, mtime_ns, inode, device) identify a file version (stat cache)."""
        ...

    def lstat(self, path: str) -> FileStat: ...

    def scandir(self, path: str) -> list[tuple[str, FileStat]]:
        """The entries of a directory as (name, lstat), in no particular order."""
        ...

    def readlink(self, path: str) -> str: ...

    def realpath(self, path: str) -> str:
        """The path with every symlink resolved (lexically, for a dangling link)."""
        ...

    def abspath(self, path: str) -> str: ...

    def open_input(self, path: str) -> BinaryIO:
        """A binary stream for sequential reading."""
        ...

    def arrow_filesystem(self) -> Any:
        """The ``pyarrow.fs.FileSystem`` to read tables with (``None``: local paths)."""
        ...


def _kind(mode: int) -> StatKind:
    if stat_mod.S_ISREG(mode):
        return "file"
    if stat_mod.S_ISDIR(mode):
        return "directory"
    if stat_mod.S_ISLNK(mode):
        return "symlink"
    if stat_mod.S_ISFIFO(mode):
        return "fifo"
    if stat_mod.S_ISSOCK(mode):
        return "socket"
    if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode):
        return "device"
    return "other"


def from_os_stat(st: os.stat_result) -> FileStat:
    return FileStat(_kind(st.st_mode), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


class LocalFileSystem:
    """The local disk, through ``os`` (no pyarrow import)."""

    stable_identity = True

    def lstat(self, path: str) -> FileStat:
        return from_os_stat(os.lstat(path))

    def scandir(self, path: str) -> list[tuple[str, FileStat]]:
        with os.scandir(path) as it:
            return [(e.name, from_os_stat(e.stat(follow_symlinks=False))) for e in it]

    def readlink(self, path: str) -> str:
        return os.readlink(path)

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def abspath(self, path: str) -> str:
        return os.path.abspath(path)

    def open_input(self, path: str) -> BinaryIO:
        return open(path, "rb", buffering=0)

    def arrow_filesystem(self) -> Any:
        return None


class ArrowFileSystem:
    """Any ``pyarrow.fs.FileSystem`` (S3, GCS, HDFS, in-memory...): no links, no inodes."""

    stable_identity = False

    def __init__(self, fs: Any) -> None:
        self._fs = fs

    def lstat(self, path: str) -> FileStat:
        return self._info(self._fs.get_file_info(path))

    def _info(self, info: Any) -> FileStat:
        from pyarrow.fs import FileType

        if info.type == FileType.NotFound:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", info.path)
        kind: StatKind
        if info.type == FileType.File:
            kind = "file"
        elif info.type == FileType.Directory:
            kind = "directory"
        else:
            kind = "other"
        return FileStat(kind, int(info.size or 0), int(info.mtime_ns or 0))

    def scandir(self, path: str) -> list[tuple[str, FileStat]]:
        from pyarrow.fs import FileSelector

        infos = self._fs.get_file_info(FileSelector(path, recursive=False))
        return [(posixpath.basename(i.path), self._info(i)) for i in infos]

    def readlink(self, path: str) -> str:
        raise OSError(errno.EINVAL, "not a symbolic link", path)

    def realpath(self, path: str) -> str:
        return posixpath.normpath(path)

    def abspath(self, path: str) -> str:
        return posixpath.normpath(path)

    def open_input(self, path: str) -> BinaryIO:
        stream: BinaryIO = self._fs.open_input_stream(path)
        return stream

    def arrow_filesystem(self) -> Any:
        return self._fs


def as_filesystem(fs: object | None) -> FileSystem:
    """``None`` means local; a ``pyarrow.fs.FileSystem`` is wrapped; ours pass through."""
    if fs is None:
        return LocalFileSystem()
    if isinstance(fs, LocalFileSystem | ArrowFileSystem):
        return fs
    if hasattr(fs, "get_file_info") and hasattr(fs, "open_input_stream"):
        return ArrowFileSystem(fs)
    if isinstance(fs, FileSystem):
        return fs
    raise TypeError(f"not a filesystem: {fs!r}")


def os_error(exc: OSError, display: str) -> FingerprintError:
    """Translate an ``OSError`` about ``display`` into a ``FingerprintError``."""
    if isinstance(exc, FileNotFoundError):
        return FingerprintError(
            "no such file or directory",
            path=display,
            hint="check the path (relative paths are taken from the current directory)",
        )
    if isinstance(exc, PermissionError):
        return FingerprintError(
            "permission denied",
            path=display,
            hint="make it readable by the user running auditpipe",
        )
    if exc.errno == errno.ELOOP:
        return FingerprintError("too many levels of symbolic links", path=display)
    what, hint = describe(exc)
    return FingerprintError(f"cannot read it: {what}", path=display, hint=hint)
