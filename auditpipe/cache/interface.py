"""The object-store seam: what the output cache needs from where its bytes live.

A local directory implements it today (``local.py``); a remote object store
(s3, gcs, a shared NFS path) is another implementation of the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

LinkType = Literal["reflink", "hardlink", "symlink", "copy"]
LINK_TYPES: tuple[LinkType, ...] = ("reflink", "hardlink", "symlink", "copy")


class ObjectStore(ABC):
    """Immutable blobs named by the sha256 of their bytes."""

    @abstractmethod
    def has(self, oid: str) -> bool:
        """Whether the object is present."""

    @abstractmethod
    def add(self, source: Path, oid: str | None = None, *, move: bool = False) -> str:
        """Store ``source``'s bytes; returns their oid (the sha256 of the stored bytes).

        With ``oid`` the bytes must hash to it, else ``CacheError`` and nothing
        is stored. ``move`` takes the file itself (it leaves ``source``).
        """

    @abstractmethod
    def add_bytes(self, data: bytes) -> str:
        """Store small bytes (a directory listing); returns their oid."""

    @abstractmethod
    def read_bytes(self, oid: str) -> bytes:
        """The bytes of a (small) object, checked against ``oid``."""

    @abstractmethod
    def place(self, oid: str, dest: Path) -> LinkType:
        """Make ``dest`` (which must not exist) a file with the object's bytes.

        Returns how it was done (the first link type that worked).
        """

    @abstractmethod
    def ids(self) -> Iterator[str]:
        """Every object id held."""

    @abstractmethod
    def remove(self, oid: str) -> int:
        """Delete an object; returns the bytes freed."""

    @abstractmethod
    def where(self, oid: str) -> str:
        """Where a user finds the object (a path or a URL)."""
