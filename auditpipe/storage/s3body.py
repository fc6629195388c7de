"""Reading the body of one S3 GET on a thread while the caller hashes what was read.

Two readers, the same bytes: ``iter_chunks`` through botocore and urllib3 (any
object), and, for large objects, ``readinto`` on the HTTP response under them
into a few reused buffers. urllib3 2's ``read(amt)`` zero-fills a new buffer,
copies it out of ``http.client`` and again through its own queue; for 256 MiB
that is ~1 GiB of memory traffic and 256 fresh 1 MiB allocations (page faults)
that compete with the hash for the same cores. botocore asks urllib3 for the
raw bytes (``decode_content=False``), so both readers see exactly the bytes on
the wire; the caller still compares the byte count and the response's ETag.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

# One GET per object, read on a thread in 1 MiB chunks while the caller hashes. Measured
# (interleaved, 7 rounds, loaded 2-core machine): 1 MiB x 4 queued 0.49 s for 256 MiB,
# 2 MiB x 8 0.71 s, 8 MiB 0.6-0.9 s; reading and hashing in turn 0.51 s (as good only
# when no second core is free; with one, the thread was 0.46 s against 0.58 s).
CHUNK_BYTES = 1 << 20
BUFFERS = 4
# Below this, reading through urllib3 keeps its connection pooled for the next GET
# (bypassing it closes the connection); above, the copies it saves dominate.
DIRECT_MIN_BYTES = 8 << 20


def body_chunks(body: Any, size: int) -> Iterator[bytes | memoryview]:
    """The bytes of a botocore ``StreamingBody`` of ``size`` bytes, in order.

    A yielded memoryview is valid only until the next one is asked for."""
    raw = _http_response(body) if size >= DIRECT_MIN_BYTES else None
    return _chunks(body) if raw is None else _filled(body, raw)


def _http_response(body: Any) -> Any | None:
    """The ``http.client`` response under botocore's body and urllib3's response, when
    this botocore/urllib3 lays them out as expected and nothing was read yet."""
    stream = getattr(body, "_raw_stream", None)
    raw = getattr(stream, "_fp", None)
    if getattr(stream, "_fp_bytes_read", 1) != 0 or not callable(getattr(raw, "readinto", None)):
        return None
    return raw


def _chunks(body: Any) -> Iterator[bytes]:
    """The body's chunks via botocore, read on a thread so hashing one overlaps reading
    the next."""
    ready: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=BUFFERS)

    def pump() -> None:
        try:
            for chunk in body.iter_chunks(CHUNK_BYTES):
                ready.put(chunk)
            ready.put(None)
        except BaseException as exc:  # handed to the hashing thread, raised there
            ready.put(exc)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:  # stopped early (an error, Ctrl-C): unblock the reader so it can end
        body.close()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.1)


def _filled(body: Any, raw: Any) -> Iterator[memoryview]:
    """The body read with ``raw.readinto`` into ``BUFFERS`` reused buffers on a thread;
    a buffer goes back to the reader once the caller asks for the next one."""
    free: queue.Queue[bytearray | None] = queue.Queue()
    full: queue.Queue[tuple[bytearray, int] | BaseException] = queue.Queue()
    for _ in range(BUFFERS):
        free.put(bytearray(CHUNK_BYTES))

    def pump() -> None:
        try:
            while (buffer := free.get()) is not None:
                read = raw.readinto(buffer)
                full.put((buffer, read))
                if not read:
                    return
        except BaseException as exc:  # handed to the hashing thread, raised there
            full.put(exc)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        while True:
            item = full.get()
            if isinstance(item, BaseException):
                raise item
            buffer, read = item
            if not read:
                return
            yield memoryview(buffer)[:read]
            free.put(buffer)
    finally:  # the reader waits for a buffer or ends at EOF; either way it stops now
        free.put(None)
        body.close()
