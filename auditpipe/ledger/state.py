"""This clone's ledger state under ``.git/auditpipe/``: the writer lock and
the last verified head (the rollback detector)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from auditpipe.faults import os_fault

VERIFIED_HEAD = "verified-head"
WRITER_LOCK = "ledger.lock"


@contextlib.contextmanager
def writer_lock(state_dir: Path) -> Iterator[None]:
    """Serialize auditpipe writers of this repository's ledger.

    An OS file lock dies with its process, so a writer killed mid-append never
    blocks the next one (unlike git's ``.lock`` files, which it leaves behind).
    """
    try:
        fd = os.open(state_dir / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_fault(exc, state_dir / WRITER_LOCK, verb="lock") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_verified_head(state_dir: Path) -> bytes | None:
    path = state_dir / VERIFIED_HEAD
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return None  # garbage is no head: verification starts from the root
    except OSError as exc:
        raise os_fault(exc, path) from exc
    return text.encode() if len(text) == 40 else None


def write_verified_head(state_dir: Path, head: bytes) -> None:
    """Atomically record ``head`` as verified by this clone; on failure (a full
    or read-only disk) the old file stays and no temporary file is left."""
    target = state_dir / VERIFIED_HEAD
    tmp = target.with_name(f"{VERIFIED_HEAD}.{os.getpid()}.tmp")
    try:
        tmp.write_text(head.decode() + "\n")
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise os_fault(exc, target, verb="write") from exc
