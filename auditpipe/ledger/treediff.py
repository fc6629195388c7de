"""Which fan-out records changed between two ``entries/`` trees, by raw bytes.

The entries tree's records all have one width (mode, two-hex-digit name,
binary sha), so the changed ones are found by comparing raw bytes (a common
prefix and suffix, bisected with C-level compares), not by parsing 256
records per commit. Anything irregular falls back to a full comparison.
"""

from __future__ import annotations

from dulwich.errors import ObjectFormatException
from dulwich.objects import parse_tree

from auditpipe.ledger.gitstore import GitStore

Records = dict[bytes, tuple[int, bytes]]


BUCKET_RECORD = len(b"40000 ab\0") + 20  # mode, two-hex-digit name, binary sha


def raw_tree(store: GitStore, sha: bytes | None) -> bytes:
    if sha is None:
        return b""
    type_num, body = store.raw(sha)
    return body if type_num == 2 else b""


def records(raw: bytes) -> dict[bytes, tuple[int, bytes]]:
    try:
        return {name: (mode, bytes(sha)) for name, mode, sha in parse_tree(raw, 20)}
    except ObjectFormatException:
        return {}


def changed_records(
    old: bytes, new: bytes
) -> tuple[dict[bytes, tuple[int, bytes]], dict[bytes, tuple[int, bytes]]]:
    """The records that differ between two entries trees, as name -> tree id maps."""
    width = BUCKET_RECORD
    if len(old) % width or len(new) % width:
        return records(old), records(new)
    a, b = old, new  # bytes slices compare with memcmp (memoryview compares per item)
    limit = min(len(a), len(b))
    lo, hi = 0, limit  # longest common prefix, by bisection on C-level compares
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if a[:mid] == b[:mid] else (lo, mid - 1)
    prefix = lo
    lo, hi = 0, limit - prefix
    while lo < hi:
        mid = (lo + hi + 1) // 2
        same = a[len(a) - mid :] == b[len(b) - mid :]
        lo, hi = (mid, hi) if same else (lo, mid - 1)
    start = prefix // width * width
    tail = lo // width * width
    return records(old[start : len(old) - tail]), records(new[start : len(new) - tail])
