"""Signs of life on stderr for work that takes more than about a second.

On a terminal, one transient rich status line (a spinner naming what runs,
with elapsed seconds) that disappears when the work is done. Anywhere else (a
CI log, a file) a plain line once a task has run for a second, then a
heartbeat line every ``every`` seconds, so a log shows the job is alive and
what it was doing. Nothing is shown for quick work, nothing ever goes to
stdout, and commands asked for ``--json`` pass ``enabled=False``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from rich.markup import escape
from rich.status import Status

from auditpipe.cli.app import err

AFTER = 1.0  # seconds before anything is shown
EVERY = 10.0  # seconds between heartbeat lines when stderr is not a terminal
TICK = 0.2


class Heartbeat:
    """Named tasks in progress, shown by one background thread."""

    def __init__(self, *, enabled: bool = True, after: float = AFTER, every: float = EVERY):
        self.enabled, self.after, self.every = enabled, after, every
        self._tasks: dict[str, tuple[str, float, float]] = {}  # key -> (text, started, shown)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._status: Status | None = None

    def set(self, key: str, text: str) -> None:
        """Start (or rename) task ``key``; its clock starts at the first call."""
        if not self.enabled:
            return
        with self._lock:
            started, shown = self._tasks.get(key, ("", time.monotonic(), 0.0))[1:]
            self._tasks[key] = (text, started, shown)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True)
                self._thread.start()

    def clear(self, key: str) -> None:
        """Task ``key`` is done."""
        with self._lock:
            self._tasks.pop(key, None)

    def close(self) -> None:
        """Stop showing anything (idempotent)."""
        with self._lock:
            self._tasks.clear()
            thread, self._thread = self._thread, None
        if thread is not None:
            self._wake.set()
            thread.join()
            self._wake.clear()

    def _loop(self) -> None:
        while not self._wake.wait(TICK):
            self._show()
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _show(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = {k: t for k, t in self._tasks.items() if now - t[1] >= self.after}
            if err.is_terminal:
                self._show_status(due, now)
                return
            for key, (text, started, shown) in due.items():
                if not shown or now - shown >= self.every:
                    elapsed = f" ({now - started:.0f} s)" if shown else ""
                    err.print(f"… {escape(text)}{elapsed}", highlight=False)
                    self._tasks[key] = (text, started, now)

    def _show_status(self, due: dict[str, tuple[str, float, float]], now: float) -> None:
        if not due:
            if self._status is not None:
                self._status.stop()
                self._status = None
            return
        line = "; ".join(f"{text} ({now - started:.0f} s)" for text, started, _ in due.values())
        if self._status is None:
            self._status = err.status(escape(line))
            self._status.start()
        else:
            self._status.update(escape(line))


@contextlib.contextmanager
def working(text: str, *, enabled: bool = True) -> Iterator[Heartbeat]:
    """Show ``text`` while the block runs (if it runs long); ``set("main", ...)``
    on the yielded heartbeat renames the step."""
    beat = Heartbeat(enabled=enabled)
    beat.set("main", text)
    try:
        yield beat
    finally:
        beat.close()
