"""Stage logs kept beside the ledger: known and detected secrets replaced, and
the files readable by their owner only."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from auditpipe.secrets.detect import secret_spans

MARK = "[REDACTED]"


def redact(data: bytes, known: Iterable[str] = ()) -> bytes:
    """``data`` with every known secret value and every detected secret replaced."""
    text = data.decode("utf-8", "surrogateescape")
    for value in sorted({v for v in known if v}, key=len, reverse=True):
        text = text.replace(value, MARK)
    spans = sorted(secret_spans(text))
    if not spans:
        return text.encode("utf-8", "surrogateescape")
    pieces: list[str] = []
    at = 0
    for start, end in spans:
        if end <= at:
            continue
        pieces.append(text[at : max(at, start)])
        if start >= at:
            pieces.append(MARK)
        at = end
    pieces.append(text[at:])
    return "".join(pieces).encode("utf-8", "surrogateescape")


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, mode 0600 (also when the file existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
    finally:
        os.close(fd)
