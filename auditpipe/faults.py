"""Faults of the machine as messages: permission denied, a full or read-only
disk, too many open files, a file that vanished. Each becomes a
:class:`~auditpipe.errors.FileSystemError` naming the path and what to do.

Modules that touch the file system map ``OSError`` here, where the path and
the action are known; the CLI maps whatever still escapes, as a last resort.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from auditpipe.errors import FileSystemError

_FULL = "free space on the disk that holds it (`df -h`), then run the command again"
_PERMISSION = "check its permissions (`ls -l`), or run as a user who may {verb} it"
_OPEN_FILES = "raise the open-file limit (`ulimit -n 4096`) or run fewer jobs at once (-j 1)"
_FAULTS: dict[int, tuple[str, str]] = {
    errno.EACCES: ("permission denied", _PERMISSION),
    errno.EPERM: ("operation not permitted", _PERMISSION),
    errno.ENOSPC: ("no space left on the device", _FULL),
    errno.EDQUOT: ("disk quota exceeded", _FULL),
    errno.EFBIG: ("file too large for the file system", _FULL),
    errno.EROFS: (
        "read-only file system",
        "run from a writable clone, or remount the file system read-write",
    ),
    errno.EMFILE: ("too many open files", _OPEN_FILES),
    errno.ENFILE: ("too many open files on this system", _OPEN_FILES),
    errno.ENOENT: (
        "no such file or directory",
        "it may have been moved or deleted while auditpipe was working; "
        "leave the files alone while auditpipe runs, then run the command again",
    ),
    errno.EIO: ("input/output error", "the disk may be failing: check `dmesg`, then try again"),
}


def describe(exc: OSError, verb: str = "read") -> tuple[str, str | None]:
    """(what went wrong, what to do) for an OS error, without its path."""
    what, hint = _FAULTS.get(exc.errno or 0, (exc.strerror or str(exc), ""))
    return what, hint.format(verb=verb) or None


def os_fault(
    exc: OSError, path: str | os.PathLike[str] | None = None, *, verb: str = "read"
) -> FileSystemError:
    """``exc`` as an error naming the path (``path``, else the one in ``exc``)."""
    where = path if path is not None else exc.filename
    what, hint = describe(exc, verb)
    error = FileSystemError(
        f"cannot {verb} it: {what}" if where is not None else f"cannot {verb} a file: {what}",
        path=shown(where),
        hint=hint,
    )
    error.errno = exc.errno
    return error


def shown(path: object) -> str | None:
    """A path as the user would type it: relative to the current directory when inside it."""
    if path is None:
        return None
    text = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else str(path)
    try:
        relative = Path(text).relative_to(Path.cwd())
    except (ValueError, OSError):
        return text
    return relative.as_posix()
