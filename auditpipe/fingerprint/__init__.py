"""Fingerprints of files, directories and tables: what a manifest records about data.

Public API (everything else is internal):

* ``fingerprint(path, *, root, fs, cache, content, workers, observer) -> Fingerprint``
* ``fingerprint_many(paths, ...) -> list[Fingerprint]`` (one parallel hashing pass)
* ``Fingerprint``, ``TableInfo``, ``Field``, ``ColumnStats``: frozen results,
  ``Fingerprint.to_dict()`` gives the JSON resource descriptor
* ``StatCache``: the sqlite stat cache (``StatCache.default_path(git_dir)``)
* ``ProgressObserver``, ``NullObserver``, ``HashCounter``: progress reporting
* ``FileSystem``, ``LocalFileSystem``, ``ArrowFileSystem``: the filesystem seam

Modules: ``api`` (orchestration), ``hashing`` (streaming, parallel SHA-256),
``tree`` (directory walk and Merkle digest), ``statcache``, ``formats`` (which
names are tables), ``table`` and ``content`` (pyarrow, imported lazily),
``model`` (results and JSON form), ``fs``, ``observer``.
"""

from auditpipe.fingerprint.api import fingerprint, fingerprint_many
from auditpipe.fingerprint.fs import ArrowFileSystem, FileSystem, LocalFileSystem
from auditpipe.fingerprint.model import ColumnStats, Field, Fingerprint, TableInfo
from auditpipe.fingerprint.observer import HashCounter, NullObserver, ProgressObserver
from auditpipe.fingerprint.statcache import StatCache

__all__ = [
    "ArrowFileSystem",
    "ColumnStats",
    "Field",
    "FileSystem",
    "Fingerprint",
    "HashCounter",
    "LocalFileSystem",
    "NullObserver",
    "ProgressObserver",
    "StatCache",
    "TableInfo",
    "fingerprint",
    "fingerprint_many",
]
