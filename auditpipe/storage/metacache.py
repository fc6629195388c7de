"""The object metadata cache: digests of objects that have not changed since they were hashed.

Owns the sqlite file ``<repo>/.git/auditpipe/objects.sqlite`` and its tables:

* ``objects``: (URL) -> size, ETag, last-modified (ns), version id, sha256. An
  entry is used only when size, ETag and last-modified all still match what
  the store lists now. A listing carries no version id; on a versioned bucket
  every new version has a new last-modified, so (ETag, last-modified) names
  one version, and the version id read by the GET that hashed it is kept.
* ``tables``: (byte digest, variant) -> table profile as JSON; content
  addressed, so never stale.

Like the local stat cache it is an optimisation, never a source of failure:
any sqlite error turns it into a no-op.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from auditpipe.storage.s3 import ObjectInfo

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    url TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ns INTEGER NOT NULL,
    version_id TEXT,
    sha256 TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tables (
    digest TEXT NOT NULL,
    variant TEXT NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (digest, variant)
) WITHOUT ROWID;
"""


class ObjectCache:
    """A sqlite cache of object digests and table profiles (``None`` path: disabled)."""

    FILE = "objects.sqlite"

    def __init__(self, state_dir: Path | None) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if state_dir is None:
            return
        for _attempt in range(2):
            try:
                state_dir.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(
                    state_dir / self.FILE,
                    timeout=10.0,
                    isolation_level=None,
                    check_same_thread=False,
                )
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                self._db = db
                return
            except sqlite3.DatabaseError as exc:  # not a database: rebuild it once
                log.warning("object cache %s is unusable (%s); rebuilding it", state_dir, exc)
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        (state_dir / f"{self.FILE}{suffix}").unlink()
            except (OSError, sqlite3.Error) as exc:
                log.warning("object cache in %s is unusable (%s); reading again", state_dir, exc)
                return

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._db is None:
            return []
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                log.warning("object cache: %s; disabling it", exc)
                self.close()
                return []

    def lookup(self, url: str, info: ObjectInfo) -> tuple[str, str | None] | None:
        """(sha256, version id) of ``url`` when the cached entry is this very version."""
        rows = self._query(
            "SELECT sha256, version_id FROM objects WHERE url = ? AND size = ? AND etag = ?"
            " AND modified_ns = ?",
            (url, info.size, info.etag, info.modified_ns),
        )
        return (str(rows[0][0]), rows[0][1]) if rows else None

    def lookup_many(self, wanted: dict[str, ObjectInfo]) -> dict[str, tuple[str, str | None]]:
        """``lookup`` for many URLs in one query per 500 (a no-op status reads thousands)."""
        found: dict[str, tuple[str, str | None]] = {}
        urls = list(wanted)
        for start in range(0, len(urls), 500):
            part = urls[start : start + 500]
            rows = self._query(
                "SELECT url, size, etag, modified_ns, sha256, version_id FROM objects"
                f" WHERE url IN ({','.join('?' * len(part))})",
                tuple(part),
            )
            for url, size, etag, modified_ns, sha256, version_id in rows:
                info = wanted[url]
                if (size, etag, modified_ns) == (info.size, info.etag, info.modified_ns):
                    found[url] = (sha256, version_id)
        return found

    def store(self, url: str, info: ObjectInfo, sha256: str, version_id: str | None) -> None:
        self._query(
            "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?)",
            (url, info.size, info.etag, info.modified_ns, version_id, sha256),
        )

    def get_table(self, digest: str, variant: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT info FROM tables WHERE digest = ? AND variant = ?", (digest, variant)
        )
        if not rows:
            return None
        with contextlib.suppress(ValueError):
            found = json.loads(rows[0][0])
            return found if isinstance(found, dict) else None
        return None

    def put_table(self, digest: str, variant: str, info: dict[str, Any]) -> None:
        self._query(
            "INSERT OR REPLACE INTO tables VALUES (?, ?, ?)",
            (digest, variant, json.dumps(info)),
        )

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
