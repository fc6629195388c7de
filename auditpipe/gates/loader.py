"""Great Expectations loaded once per command, in the background, while a stage runs.

Importing ``great_expectations`` takes seconds, and a run's gates need it only
once their stage's command has finished. :class:`GxLoader` imports GX, builds
the one ephemeral Data Context every gate of the command shares and checks the
command's suite files on a background thread; the stage's command is a
subprocess, so that work runs on another core at the same time as it (a thread
is enough: the driver waits on the child's pipes, holding no GIL).

A failure on the thread is kept, not raised there: a suite GX refuses is the
very :class:`~auditpipe.errors.SuiteError` :func:`~auditpipe.gates.suite.load_suite`
raises, and GX failing to load is a :class:`~auditpipe.errors.GateError`; either
is raised to whoever asks for the suite or the context (exit 2, the file named),
never a traceback from the thread. ``on_ready`` is called on the thread once
loading has finished, well or not, so a run can stop a stage's command as soon
as a suite it depends on is known to be refused.

Suites are checked as their bytes were when the loader read them; asking for a
suite reads the file again and re-checks it (GX is loaded by then, so that is
cheap) when its bytes changed, so a gate always validates, and records the
digest of, the suite file as it is when the gate runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from auditpipe.errors import Error, GateError, SuiteError
from auditpipe.gates.session import ephemeral_context, gx_session
from auditpipe.gates.suite import Suite, read_suite, suite_from_bytes


class GxLoader:
    """Loads GX, one shared context and the suites ``suites`` (paths relative to ``root``)."""

    def __init__(
        self,
        root: Path | str,
        suites: Iterable[str] = (),
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self._on_ready = on_ready  # called on the thread once loading has finished
        self._displays = tuple(dict.fromkeys(suites))
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._done = threading.Event()
        self._context: Any = None
        self._failure: BaseException | None = None
        # display -> (sha256 of the bytes checked, the suite or why it was refused)
        self._checked: dict[str, tuple[str, Suite | SuiteError]] = {}

    def start(self) -> None:
        """Begin loading (once; later calls do nothing)."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._load, name="auditpipe-gx-loader", daemon=True
                )
                self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def ready(self) -> bool:
        """Whether loading has finished (well or not)."""
        return self._done.is_set()

    def close(self) -> None:
        """Wait for a started load to finish (so no import runs on at exit)."""
        if self._thread is not None:
            self._thread.join()

    def _load(self) -> None:
        try:
            with gx_session() as gx:
                self._context = ephemeral_context(gx)
            for display in self._displays:
                try:
                    raw = read_suite(self.root / display, display)
                except SuiteError:
                    continue  # raised when a gate asks for it (the file is read again then)
                self._checked[display] = (hashlib.sha256(raw).hexdigest(), _check(raw, display))
        except BaseException as exc:  # kept for the gate to raise; the thread must not die loudly
            self._failure = exc
        finally:
            self._done.set()
        if self._on_ready is not None:
            # Never a traceback from the thread: a gate still raises the failure itself.
            with contextlib.suppress(BaseException):
                self._on_ready()

    def _wait(self) -> None:
        self.start()
        self._done.wait()
        failure = self._failure
        if failure is None:
            return
        if isinstance(failure, Error):
            raise failure
        raise GateError(
            f"cannot load Great Expectations: {_first_line(failure)}",
            hint="reinstall auditpipe's dependencies (`pip install auditpipe`) "
            "and check that `python -c 'import great_expectations'` works",
        ) from failure

    def context(self) -> Any:
        """The shared ephemeral Data Context (waits for loading)."""
        self._wait()
        return self._context

    def suite(self, display: str) -> Suite:
        """The checked suite at ``root/display`` as its file is now (waits for loading)."""
        self._wait()
        raw = read_suite(self.root / display, display)
        digest = hashlib.sha256(raw).hexdigest()
        checked = self._checked.get(display)
        if checked is None or checked[0] != digest:
            checked = (digest, _check(raw, display))
            self._checked[display] = checked
        if isinstance(checked[1], SuiteError):
            raise checked[1]
        return checked[1]

    def check(self, displays: Sequence[str]) -> None:
        """Check suites before a command runs, as far as is possible now: fully
        when loading has finished, without GX (file, UTF-8, JSON) otherwise."""
        for display in displays:
            if self.ready:
                self.suite(display)
            else:
                read_suite(self.root / display, display)


def _check(raw: bytes, display: str) -> Suite | SuiteError:
    try:
        return suite_from_bytes(raw, display)
    except SuiteError as exc:
        return exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
