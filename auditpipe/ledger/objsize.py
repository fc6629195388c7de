"""A git object's size, read from its header without inflating the object.

A loose object is a zlib stream starting ``"<type> <size>\\0"``: inflating a
few dozen bytes gives the size. A packed object's header (type and size as a
varint) sits uncompressed at its offset in the pack; for a delta, the size of
the object it rebuilds is the second varint of the inflated delta. Either way
at most a few KB are read, so a hostile 100 MB entry costs no memory.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

_OFS_DELTA, _REF_DELTA = 6, 7
_HEAD = 64 * 1024


def loose_size(path: str) -> int | None:
    """The size in a loose object's header; None if there is no such file."""
    try:
        with open(path, "rb") as handle:
            compressed = handle.read(_HEAD)
    except FileNotFoundError:
        return None
    head = zlib.decompressobj().decompress(compressed, 64)
    _kind, _, rest = head.partition(b" ")
    size, nul, _ = rest.partition(b"\0")
    if not nul or not size.isdigit():
        raise ValueError("loose object header is corrupt")
    return int(size)


def read_loose_bounded(path: str, limit: int) -> tuple[int, bytes | None] | None:
    """(size, content) of a loose blob, content None past ``limit``; None if absent.

    Only the object's first 64 KiB are read when its file is large (its size
    then comes from the header alone); content is never inflated past ``limit``.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below, one open on the hot path)
    except FileNotFoundError:
        return None
    with handle:
        whole = os.fstat(handle.fileno()).st_size <= _HEAD
        compressed = handle.read() if whole else handle.read(_HEAD)
    inflater = zlib.decompressobj()
    data = inflater.decompress(compressed, limit + 64)
    header, nul, body = data.partition(b"\0")
    kind, _, size_text = header.partition(b" ")
    if not nul or kind != b"blob" or not size_text.isdigit():
        raise ValueError("not a loose blob, or its header is corrupt")
    size = int(size_text)
    if size > limit or not whole or len(body) != size:
        return size, None
    return size, body


def packed_size(object_store: Any, hexsha: bytes) -> int | None:
    """The size of a packed object, from its pack entry header; None if not packed."""
    for pack in getattr(object_store, "packs", []):
        try:
            offset = pack.index.object_offset(hexsha)
        except KeyError:
            continue
        with open(pack._data_path, "rb") as handle:
            handle.seek(offset)
            head = handle.read(_HEAD)
        return _entry_size(head)
    return None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """A little-endian base-128 varint (git's delta header form) at ``at``."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _entry_size(head: bytes) -> int:
    byte = head[0]
    type_num = (byte >> 4) & 7
    size = byte & 0x0F
    shift, at = 4, 1
    while byte & 0x80:
        byte = head[at]
        at += 1
        size |= (byte & 0x7F) << shift
        shift += 7
    if type_num == _OFS_DELTA:
        while head[at] & 0x80:
            at += 1
        at += 1
    elif type_num == _REF_DELTA:
        at += 20
    else:
        return size
    delta = zlib.decompressobj().decompress(head[at:], 32)
    _base, after = _varint(delta, 0)
    target, _ = _varint(delta, after)
    return target


def object_size(objects_dir: str, object_store: Any, hexsha: str) -> int | None:
    """A git object's size from its header (loose or packed); None if absent."""
    size = loose_size(os.path.join(objects_dir, hexsha[:2], hexsha[2:]))
    if size is not None:
        return size
    return packed_size(object_store, hexsha.encode())
