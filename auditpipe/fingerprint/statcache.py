"""The stat cache: digests of files that have not changed since they were last hashed.

Owns the sqlite file (``<repo>/.git/auditpipe/statcache.sqlite``) and its two
tables:

* ``files``: (path) -> size, mtime_ns, inode, device, cached_ns, sha256. An
  entry is used only when size, mtime_ns, inode and device all still match and
  the file's mtime is more than ``RACY_NS`` (2 s) older than the moment it was
  cached. Entries within that window are "racy" (git's racy-clean rule): a
  same-size rewrite within the filesystem's timestamp granularity would look
  unchanged, so they are hashed again.
* ``tables``: (byte digest, variant) -> table description as JSON. Content
  addressed, so it can never be stale.

The cache is an optimisation and never a source of failure: it runs in WAL
mode with a busy timeout for concurrent processes, a corrupt or unreadable
file is deleted and rebuilt, and any sqlite error downgrades it to a no-op.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from auditpipe.fingerprint.fs import FileStat

log = logging.getLogger(__name__)

RACY_NS = 2_000_000_000
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    device INTEGER NOT NULL,
    cached_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tables (
    digest TEXT NOT NULL,
    variant TEXT NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (digest, variant)
) WITHOUT ROWID;
"""


class CachedFile(NamedTuple):
    size: int
    mtime_ns: int
    inode: int
    device: int
    cached_ns: int
    sha256: str

    def matches(self, stat: FileStat) -> bool:
        """True when ``stat`` is this version of the file and the entry is not racy."""
        return (
            self.size == stat.size
            and self.mtime_ns == stat.mtime_ns
            and self.inode == stat.inode
            and self.device == stat.device
            and self.cached_ns - self.mtime_ns >= RACY_NS
        )


class StatCache:
    """A sqlite stat cache; use as a context manager (``with StatCache(path) as cache``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        # One connection shared by every thread that uses this cache, one at a time.
        self._lock = threading.RLock()
        self._open()

    @staticmethod
    def default_path(git_dir: str | os.PathLike[str]) -> Path:
        """Where a repository keeps its cache: ``<git_dir>/auditpipe/statcache.sqlite``."""
        return Path(git_dir) / "auditpipe" / "statcache.sqlite"

    # -- lifecycle ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                db.executescript("DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS tables;")
            if version != _SCHEMA_VERSION:
                db.execute("PRAGMA journal_mode = WAL")
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("SELECT 1 FROM files LIMIT 1").fetchall()
        except BaseException:
            db.close()
            raise
        return db

    def _open(self) -> None:
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            log.warning("stat cache %s is unusable (%s); rebuilding it", self.path, exc)
            self._discard()
            try:
                self._db = self._connect()
            except (sqlite3.Error, OSError) as exc2:
                log.warning("stat cache disabled: %s", exc2)
                self._db = None
        except (sqlite3.Error, OSError) as exc:
            log.warning("stat cache disabled: %s", exc)
            self._db = None

    def _discard(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

    def _failed(self, exc: sqlite3.Error) -> None:
        """An error in use: a corrupt file is rebuilt, anything else disables the cache."""
        log.warning("stat cache %s: %s", self.path, exc)
        text = str(exc).lower()
        if isinstance(exc, sqlite3.DatabaseError) and (
            "malformed" in text or "not a database" in text
        ):
            self._discard()
            self._open()
        else:
            self.close()

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None

    def __enter__(self) -> StatCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- files -------------------------------------------------------------------

    def _rows(self, sql: str, args: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        with self._lock:
            if self._db is None:
                return iter(())
            try:
                return iter(self._db.execute(sql, args).fetchall())
            except sqlite3.Error as exc:
                self._failed(exc)
                return iter(())

    def lookup(self, path: bytes) -> CachedFile | None:
        """The entry for one absolute path, if any (check it with ``matches``)."""
        for row in self._rows(
            "SELECT size, mtime_ns, inode, device, cached_ns, sha256 FROM files WHERE path = ?",
            (path,),
        ):
            return CachedFile(*row)
        return None

    def lookup_tree(self, directory: bytes) -> dict[bytes, CachedFile]:
        """Every entry under an absolute directory path, in one query."""
        prefix = directory.rstrip(b"/") + b"/"
        upper = prefix[:-1] + b"0"  # the byte after "/"
        return {
            row[0]: CachedFile(*row[1:])
            for row in self._rows(
                "SELECT path, size, mtime_ns, inode, device, cached_ns, sha256 FROM files"
                " WHERE path >= ? AND path < ?",
                (prefix, upper),
            )
        }

    def store(self, entries: Iterable[tuple[bytes, FileStat, str]], cached_ns: int) -> None:
        """Record (path, stat, sha256) for files hashed at ``cached_ns`` (before reading)."""
        if self._db is None:
            return
        rows = [
            (path, s.size, s.mtime_ns, s.inode, s.device, cached_ns, sha)
            for path, s, sha in entries
        ]
        if not rows:
            return
        with self._lock:
            try:
                with self._transaction() as db:
                    db.executemany(
                        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                    )
            except sqlite3.Error as exc:
                self._failed(exc)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                raise sqlite3.InterfaceError("the stat cache is closed")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- tables ------------------------------------------------------------------

    def get_table(self, digest: str, variant: str) -> dict[str, Any] | None:
        """A cached table description for content with this byte digest."""
        for (info,) in self._rows(
            "SELECT info FROM tables WHERE digest = ? AND variant = ?", (digest, variant)
        ):
            try:
                value = json.loads(info)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
        return None

    def put_table(self, digest: str, variant: str, info: dict[str, Any]) -> None:
        if self._db is None:
            return
        with self._lock:
            try:
                with self._transaction() as db:
                    db.execute(
                        "INSERT OR REPLACE INTO tables VALUES (?, ?, ?)",
                        (digest, variant, json.dumps(info)),  # keeps column order
                    )
            except sqlite3.Error as exc:
                self._failed(exc)
