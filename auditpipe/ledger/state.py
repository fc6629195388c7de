"""This clone's ledger state under ``.git/auditpipe/``: the writer lock and
the last verified head (the rollback detector)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

VERIFIED_HEAD = "verified-head"
WRITER_LOCK = "ledger.lock"


@contextlib.contextmanager
def writer_lock(state_dir: Path) -> Iterator[None]:
    """Serialize auditpipe writers of this repository's ledger.

    An OS file lock dies with its process, so a writer killed mid-append never
    blocks the next one (unlike git's ``.lock`` files, which it leaves behind).
    """
    fd = os.open(state_dir / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_verified_head(state_dir: Path) -> bytes | None:
    try:
        text = (state_dir / VERIFIED_HEAD).read_text().strip()
    except FileNotFoundError:
        return None
    return text.encode() if len(text) == 40 else None


def write_verified_head(state_dir: Path, head: bytes) -> None:
    """Atomically record ``head`` as verified by this clone."""
    target = state_dir / VERIFIED_HEAD
    tmp = target.with_name(f"{VERIFIED_HEAD}.{os.getpid()}.tmp")
    tmp.write_text(head.decode() + "\n")
    os.replace(tmp, target)
