"""Progress of fingerprinting, reported to whoever watches (the CLI's progress bar, a test).

Owns the ``ProgressObserver`` protocol, a do-nothing ``NullObserver`` to
subclass, and ``HashCounter``, which counts the files actually hashed (what the
stat cache saves is visible as a number, without mocks).

Observers are called from worker threads and must be thread-safe.
"""

from __future__ import annotations

import threading
from typing import Protocol


class ProgressObserver(Protocol):
    """Receives progress; every method is called from any thread."""

    def on_start(self, total_bytes: int, phase: str) -> None:
        """A phase ("hashing", "reading tables") begins with this much work."""
        ...

    def on_advance(self, nbytes: int) -> None:
        """``nbytes`` more of the current phase are done."""
        ...

    def on_file_hashed(self, path: str, size: int) -> None:
        """One file's bytes were read and hashed (not served from the stat cache)."""
        ...

    def on_finish(self) -> None:
        """The current phase is over."""
        ...


class NullObserver:
    """Ignores everything; subclass it and override what you need."""

    def on_start(self, total_bytes: int, phase: str) -> None:
        pass

    def on_advance(self, nbytes: int) -> None:
        pass

    def on_file_hashed(self, path: str, size: int) -> None:
        pass

    def on_finish(self) -> None:
        pass


class HashCounter(NullObserver):
    """Counts files and bytes hashed; ``paths`` lists what was hashed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files = 0
        self.bytes = 0
        self.paths: list[str] = []

    def on_file_hashed(self, path: str, size: int) -> None:
        with self._lock:
            self.files += 1
            self.bytes += size
            self.paths.append(path)
