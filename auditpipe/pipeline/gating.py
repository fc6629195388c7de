"""The gates of one ``auditpipe run``: Great Expectations loaded once, while stages run.

GX starts loading (:class:`~auditpipe.gates.loader.GxLoader`, a background
thread) when the first stage command of the run starts while a stage with
``validate`` gates is still to come or is that stage, so the import overlaps
the command; every gate of the run then shares the one load and context. A run
whose gated stages are all skipped, restored or dry never imports GX.

Before a gated stage's command runs its suites are checked as far as is
possible then (always the file and its JSON; fully once GX has loaded). When
GX finishes loading while gated commands run, their suites are checked at once;
a command whose suite GX refuses (or every gated command, when GX cannot load)
is stopped (``stop``, the command executor's per-stage stop) and the stage
raises the ``SuiteError`` naming the file when its command has ended — exit 2,
nothing recorded, as when the suite is refused before the command starts. A
refusal GX finds only at gate time (a stop that missed) ends the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from auditpipe.errors import Error, GateError
from auditpipe.pipeline.spec import StageSpec

if TYPE_CHECKING:
    from auditpipe.gates.loader import GxLoader
    from auditpipe.manifest.predicates import Validation


class RunGates:
    """One per run: when GX loads, and the gates of each stage."""

    def __init__(
        self,
        root: Path | str,
        stages: Mapping[str, StageSpec],
        selected: Iterable[str],
        stop: Callable[[str], None] | None = None,
    ):
        self.root = Path(root)
        self._stop = stop  # stops one stage's running command
        chosen = [stages[name] for name in selected]
        self._gated = {s.name: s for s in chosen if s.validate}
        self._running: set[str] = set()  # gated stages whose command may be running
        self._refused: dict[str, Error] = {}  # stages stopped because of their suites
        self._ahead = {s.name for s in chosen if s.validate}
        self._suites = [suite for s in chosen for _data, suite in s.validate]
        self._lock = threading.Lock()
        self._loader: GxLoader | None = None

    def command_starts(self, stage: StageSpec) -> None:
        """A stage's command is about to run: start loading GX if a gate may
        follow, and check the stage's suites (``SuiteError`` stops the run)."""
        # Imports under the lock too: two threads importing different parts of
        # auditpipe.gates at once can meet in its import cycle (a partly
        # initialised module, ImportError) — seen with `-j 2`.
        with self._lock:
            if stage.validate:  # what needs no GX first: a broken file never starts the load
                from auditpipe.gates.suite import read_suite

                for _data, suite in stage.validate:
                    read_suite(self.root / suite, suite)
            if not self._ahead:
                return
            loader = self._loaded()
            if stage.validate:  # before `ready` is read: a load ending now sees it running
                self._running.add(stage.name)
        if stage.validate and loader.ready:
            try:
                loader.check([suite for _data, suite in stage.validate])
            except Error:
                self.command_done(stage.name)
                raise

    def command_done(self, name: str) -> None:
        """``name``'s command has ended: raise why it was stopped, if its suites were
        refused while it ran (the caller records nothing then)."""
        with self._lock:
            self._running.discard(name)
            refused = self._refused.pop(name, None)
        if refused is not None:
            raise refused

    def _loader_finished(self) -> None:
        """On the loader's thread: stop each running command whose suites GX refused."""
        loader = self._loader
        if loader is None:
            return
        with self._lock:
            running = [self._gated[name] for name in sorted(self._running)]
        for stage in running:
            try:
                for _data, suite in stage.validate:
                    loader.suite(suite)
            except Error as exc:
                with self._lock:
                    if stage.name not in self._running:
                        continue  # ended meanwhile: its gate raises the same error
                    self._refused[stage.name] = exc
                if self._stop is not None:
                    self._stop(stage.name)

    def stage_done(self, name: str) -> None:
        """``name`` finished (whatever happened): its gates are no longer ahead."""
        with self._lock:
            self._ahead.discard(name)

    def validate(self, stage: StageSpec) -> tuple[list[Validation], str | None]:
        """Run the stage's gates on what its command wrote: the results, and
        why they could not run, if they could not.

        A suite that cannot be used, or GX failing to load, raises (exit 2,
        nothing recorded); a gate that cannot run on the data (unreadable
        output, say) is a failure of the run, since the command made that data.
        """
        from auditpipe.gates.runner import run_checked_gates

        with self._lock:
            loader = self._loaded()
        suites = [loader.suite(path) for _data, path in stage.validate]
        context = loader.context()
        try:
            return run_checked_gates(self.root, stage.validate, suites, context), None
        except GateError as exc:
            return [], f"validation could not run: {exc.diagnostics()}"

    @property
    def ready(self) -> bool:
        """Whether GX has finished loading (a gate need not wait for it)."""
        return self._loader is not None and self._loader.ready

    def close(self) -> None:
        """Let a load that was started finish (no import left running at exit)."""
        if self._loader is not None:
            self._loader.close()

    def _loaded(self) -> GxLoader:
        if self._loader is None:
            from auditpipe.gates.loader import GxLoader

            self._loader = GxLoader(self.root, self._suites, on_ready=self._loader_finished)
            self._loader.start()
        return self._loader
