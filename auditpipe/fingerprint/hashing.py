"""Streaming SHA-256 of file contents, one file at a time or many in parallel threads.

Owns reading bytes and hashing them: 1 MiB blocks read into a reusable
per-thread buffer (``hashlib`` releases the GIL on updates over 2 KiB, so
threads hash on all cores), a single ``read`` for files under a block, and a
check that the file did not change while it was read (re-hashed if it did).

On the local filesystem files are opened with ``O_NOFOLLOW`` and checked to
be the same inode that was listed, so a file swapped for a symlink between
listing and reading is never followed.
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_mod
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import NamedTuple

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint.fs import FileStat, FileSystem, LocalFileSystem, os_error
from auditpipe.fingerprint.observer import ProgressObserver

BLOCK_SIZE = 1 << 20
# A task is a run of small files or one large file: fewer futures, balanced threads.
_CHUNK_BYTES = 8 << 20
_CHUNK_FILES = 128
_ATTEMPTS = 3
_OPEN_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def default_workers() -> int:
    """Threads for hashing: one per core (hashing is CPU-bound once data is cached)."""
    return max(1, min(32, os.cpu_count() or 1))


@dataclass(frozen=True, slots=True)
class HashJob:
    """One file to hash: where it is, what it looked like when listed, how to name it."""

    path: str
    stat: FileStat
    display: str


class HashResult(NamedTuple):
    """A file's digest and size, and the version of it that was hashed."""

    sha256: str
    size: int
    stat: FileStat


class _Changed(Exception):
    """The file is not the one that was listed, or changed while being read."""


class Cancelled(Exception):
    """Hashing was stopped because another file failed or the caller was interrupted."""


_local = threading.local()


def _buffer() -> memoryview:
    buf: memoryview | None = getattr(_local, "buf", None)
    if buf is None:
        buf = memoryview(bytearray(BLOCK_SIZE))
        _local.buf = buf
    return buf


def _hash_local(
    job: HashJob, observer: ProgressObserver, stop: threading.Event | None
) -> HashResult:
    # O_NONBLOCK: a FIFO swapped in after listing must not block; the fstat below rejects it.
    fd = os.open(job.path, _OPEN_FLAGS)
    try:
        expected = job.stat.size
        digest = hashlib.sha256()
        if expected < BLOCK_SIZE:
            # Small file: one read; asking for one byte more tells us it did not grow.
            data = os.read(fd, expected + 1)
            digest.update(data)
            total = len(data)
            observer.on_advance(total)
            more = total > expected
        else:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            total = 0
            more = True
        if more:
            buf = _buffer()
            while n := os.readv(fd, [buf]):
                if stop is not None and stop.is_set():
                    raise Cancelled
                digest.update(buf[:n])
                total += n
                observer.on_advance(n)
        # One fstat after reading proves it is the listed file, unchanged while we read it.
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (
        not stat_mod.S_ISREG(after.st_mode)
        or after.st_ino != job.stat.inode
        or after.st_dev != job.stat.device
        or after.st_size != total
        or after.st_mtime_ns != job.stat.mtime_ns
    ):
        raise _Changed
    return HashResult(digest.hexdigest(), total, job.stat)


def _hash_small_batch(jobs: Sequence[HashJob]) -> list[HashResult | None]:
    """The common case, kept lean (per-file Python time is what limits threads): files
    under one block, each read with one call into this thread's buffer. ``None`` where
    anything is unusual; the careful path (``hash_file``) then retries or raises."""
    out: list[HashResult | None] = []
    sha256, open_, readv, fstat, close = hashlib.sha256, os.open, os.readv, os.fstat, os.close
    buf = _buffer()
    for job in jobs:
        st = job.stat
        if st.size >= BLOCK_SIZE:
            out.append(None)
            continue
        try:
            fd = open_(job.path, _OPEN_FLAGS)
        except OSError:
            out.append(None)
            continue
        try:
            n = readv(fd, [buf])
            after = fstat(fd)
        except OSError:
            out.append(None)
            continue
        finally:
            close(fd)
        if (
            n != st.size
            or after.st_size != st.size
            or after.st_mtime_ns != st.mtime_ns
            or after.st_ino != st.inode
            or after.st_dev != st.device
            or not stat_mod.S_ISREG(after.st_mode)
        ):
            out.append(None)
            continue
        digest = sha256()
        digest.update(buf[:n])
        out.append(HashResult(digest.hexdigest(), n, st))
    return out


def _hash_stream(
    fs: FileSystem, job: HashJob, observer: ProgressObserver, stop: threading.Event | None
) -> HashResult:
    digest = hashlib.sha256()
    total = 0
    with fs.open_input(job.path) as stream:
        while chunk := stream.read(BLOCK_SIZE):
            if stop is not None and stop.is_set():
                raise Cancelled
            digest.update(chunk)
            total += len(chunk)
            observer.on_advance(len(chunk))
    return HashResult(digest.hexdigest(), total, job.stat)


def _read_error(exc: OSError, job: HashJob) -> FingerprintError:
    if isinstance(exc, FileNotFoundError):  # it was listed a moment ago
        return FingerprintError(
            "the file vanished while it was being fingerprinted",
            path=job.display,
            hint="leave the files alone while auditpipe reads them, then run it again",
        )
    return os_error(exc, job.display)


def hash_file(
    fs: FileSystem,
    job: HashJob,
    observer: ProgressObserver,
    stop: threading.Event | None = None,
) -> HashResult:
    """SHA-256 and size of one file; raises ``FingerprintError`` naming it."""
    for _ in range(_ATTEMPTS):
        try:
            if isinstance(fs, LocalFileSystem):
                result = _hash_local(job, observer, stop)
            else:
                result = _hash_stream(fs, job, observer, stop)
        except _Changed:
            try:
                current = fs.lstat(job.path)
                moved = fs.realpath(job.path) != job.path  # a parent swapped for a link
            except OSError as exc:
                raise _read_error(exc, job) from exc
            if current.kind != "file" or moved:
                break
            job = HashJob(job.path, current, job.display)
            continue
        except OSError as exc:
            raise _read_error(exc, job) from exc
        observer.on_file_hashed(job.display, result.size)
        return result
    raise FingerprintError(
        "the file changed while it was being fingerprinted",
        path=job.display,
        hint="wait until whatever is writing it has finished, then try again",
    )


def _chunks(jobs: Sequence[HashJob]) -> list[list[int]]:
    """Group job indexes: large files alone, small ones in runs; largest first."""
    order = sorted(range(len(jobs)), key=lambda i: jobs[i].stat.size, reverse=True)
    chunks: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for i in order:
        size = jobs[i].stat.size
        if size >= _CHUNK_BYTES:
            chunks.append([i])
            continue
        current.append(i)
        current_bytes += size
        if current_bytes >= _CHUNK_BYTES or len(current) >= _CHUNK_FILES:
            chunks.append(current)
            current, current_bytes = [], 0
    if current:
        chunks.append(current)
    return chunks


def hash_files(
    fs: FileSystem,
    jobs: Sequence[HashJob],
    observer: ProgressObserver,
    workers: int | None = None,
) -> list[HashResult]:
    """Hash every job, in parallel threads; results are in the order of ``jobs``."""
    workers = default_workers() if workers is None else max(1, workers)
    results: list[HashResult | None] = [None] * len(jobs)
    stop = threading.Event()
    local = isinstance(fs, LocalFileSystem)

    def run(indexes: list[int]) -> None:
        if stop.is_set():
            raise Cancelled
        if local and len(indexes) > 1:  # a run of small files
            batch = _hash_small_batch([jobs[i] for i in indexes])
            observer.on_advance(sum(r.size for r in batch if r is not None))
            for i, result in zip(indexes, batch, strict=True):
                if result is None:
                    result = hash_file(fs, jobs[i], observer, stop)
                else:
                    observer.on_file_hashed(jobs[i].display, result.size)
                results[i] = result
            return
        for i in indexes:
            results[i] = hash_file(fs, jobs[i], observer, stop)

    chunks = _chunks(jobs)
    if workers == 1 or len(chunks) == 1:
        for chunk in chunks:
            run(chunk)
        return [r for r in results if r is not None]

    with ThreadPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
        futures: list[Future[None]] = [pool.submit(run, c) for c in chunks]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            # On an error (or Ctrl-C) the other threads stop at their next block.
            failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
            if failed or not all(f.done() for f in futures):
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
        if failed:
            real = [f for f in failed if not isinstance(f.exception(), Cancelled)]
            (real or failed)[0].result()  # re-raises the first real error
    return [r for r in results if r is not None]
