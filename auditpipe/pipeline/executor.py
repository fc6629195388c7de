"""Run a pipeline: topological order, independent stages in parallel, every run signed.

Each selected stage is assessed when its upstream stages have finished (so a
re-run upstream that produces identical outputs does not force a re-run
downstream); stale stages run their command, stream its output with a stage
prefix, and are recorded, failed ones included. A stage with ``validate``
gates has its suites checked before its command runs and its gates run after
the command succeeds, Great Expectations loading meanwhile (``gating``); a
broken suite is a ``SuiteError`` (exit 2, nothing recorded for the stage) and a
failed gate makes the run ``gate_failed``. A failed stage
or gate stops its downstream; without ``keep_going`` nothing new starts after a
failure. On Ctrl-C/SIGTERM children are killed and interrupted runs are not
recorded.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from auditpipe.errors import Error
from auditpipe.export.openlineage.listener import QuietListener, RunListener
from auditpipe.ledger.entry import Entry
from auditpipe.manifest.predicates import Validation
from auditpipe.pipeline.dag import Dag
from auditpipe.pipeline.executors.interface import CommandExecutor, Placement
from auditpipe.pipeline.gating import RunGates
from auditpipe.pipeline.outputs import StageOutputs
from auditpipe.pipeline.planner import Assessment, Planner
from auditpipe.pipeline.spec import StageSpec
from auditpipe.storage import output_exists, url_deps_state

Outcome = Literal[
    "ran", "skipped", "restored", "failed", "gate_failed", "not_run", "would_run", "would_restore"
]

# Variables a child always gets; anything else only when the stage allow-lists it.
BASE_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "SYSTEMROOT",
    "PYTHONPATH",
)


@dataclass(frozen=True)
class StageResult:
    stage: str
    outcome: Outcome
    duration: float = 0.0
    entry: str | None = None
    exit_code: int | None = None
    reasons: tuple[str, ...] = ()


class RunObserver(Protocol):
    def stage_started(self, stage: str, cmd: str) -> None: ...
    def output(self, stage: str, stream: str, line: str) -> None: ...
    def working(self, stage: str, what: str | None) -> None:
        """Slow work of auditpipe's own for ``stage`` began (``what``) or ended (None)."""

    def stage_finished(self, result: StageResult) -> None: ...
    def notice(self, stage: str, text: str) -> None: ...


class Recorder(Protocol):
    """Signs and appends a finished run (see ``auditpipe.pipeline.recording``)."""

    def record(self, stage: StageSpec, assessment: Assessment, execution: Execution) -> str: ...


@dataclass
class Execution:
    """What happened when a stage's command ran."""

    started_at: str
    finished_at: str = ""
    exit_code: int | None = None
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    failure: str | None = None
    validations: list[Validation] = field(default_factory=list)
    lineage_run_id: str | None = None
    placement: Placement | None = None  # where it ran, when not simply here


class Interrupted(Error):
    """The run was interrupted (Ctrl-C or SIGTERM); interrupted stages were not recorded."""

    exit_code = 130


class Executor:
    """Schedules and runs stages; one instance per ``auditpipe run``."""

    def __init__(
        self,
        dag: Dag,
        stages: dict[str, StageSpec],
        planner: Planner,
        recorder: Recorder,
        observer: RunObserver,
        *,
        root: os.PathLike[str] | str,
        jobs: int = 1,
        force: bool = False,
        keep_going: bool = False,
        dry_run: bool = False,
        state_dir: os.PathLike[str] | str | None = None,
        outputs: StageOutputs | None = None,
        lineage: RunListener | None = None,
        commands: CommandExecutor | None = None,
    ) -> None:
        self.dag, self.stages, self.planner = dag, stages, planner
        # Where a gate_failed run's outputs are quarantined (None: left in place).
        self.state_dir = None if state_dir is None else Path(state_dir)
        self.outputs = outputs
        self.recorder, self.observer = recorder, observer
        self.root = os.fspath(root)
        self.jobs = max(1, jobs)
        self.force, self.keep_going, self.dry_run = force, keep_going, dry_run
        self._lock = threading.Lock()  # ledger and stat cache are not thread-safe
        self._stop = threading.Event()
        self.lineage = lineage or QuietListener()
        if commands is None:
            from auditpipe.pipeline.executors.local import LocalExecutor

            commands = LocalExecutor()
        self.commands: CommandExecutor = commands
        self.gates = RunGates(self.root, stages, ())

    def run(self, order: Sequence[str]) -> list[StageResult]:
        self.gates = RunGates(self.root, self.stages, order, stop=self.commands.stop)
        # On an error the loader's thread (a daemon) is left to the interpreter:
        # the error is shown without waiting for an import nobody needs.
        results = self._run(order)
        self.gates.close()
        return results

    def _run(self, order: Sequence[str]) -> list[StageResult]:
        selected = set(order)
        pending = list(order)
        results: dict[str, StageResult] = {}
        running: dict[Future[StageResult], str] = {}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            try:
                while pending or running:
                    for name in list(pending):
                        if self._stop.is_set() or len(running) >= self.jobs:
                            break
                        ups = self.dag.upstream(name) & selected
                        blocked = [u for u in ups if u in results and _blocks(results[u])]
                        if blocked:
                            pending.remove(name)
                            self.gates.stage_done(name)
                            results[name] = StageResult(
                                name,
                                "not_run",
                                reasons=(f"upstream {', '.join(sorted(blocked))} did not succeed",),
                            )
                            self.observer.stage_finished(results[name])
                        elif all(u in results for u in ups):
                            pending.remove(name)
                            running[pool.submit(self._one, self.stages[name])] = name
                    if not running:
                        break
                    finished, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        name = running.pop(future)
                        self.gates.stage_done(name)
                        results[name] = future.result()
                        self.observer.stage_finished(results[name])
                        if (
                            results[name].outcome in ("failed", "gate_failed")
                            and not self.keep_going
                        ):
                            self._stop.set()
            except KeyboardInterrupt:
                self._stop.set()
                self.commands.stop()
                for future in running:
                    future.cancel()
                wait(list(running))
                raise Interrupted(
                    "interrupted: running stages were stopped and not recorded",
                    hint="completed stages were recorded; run `auditpipe run` again to resume",
                ) from None
        for name in pending:
            blocked = sorted(
                u for u in self.dag.upstream(name) if u in results and _blocks(results[u])
            )
            reason = (
                f"upstream {', '.join(blocked)} did not succeed"
                if blocked
                else "stopped after a failure"
            )
            results[name] = StageResult(name, "not_run", reasons=(reason,))
            self.observer.stage_finished(results[name])
        return [results[name] for name in order if name in results]

    def _one(self, stage: StageSpec) -> StageResult:
        from auditpipe.storage.objects import listed_once

        start = time.monotonic()
        with listed_once(stage.deps):  # the snapshot and the hashing share one listing
            # before hashing: a change mid-hash is caught
            remote_deps = {} if self.dry_run else url_deps_state(stage.deps)
            with self._lock:
                assessment = self.planner.assess(stage, force=self.force)
        if assessment.up_to_date:
            return StageResult(stage.name, "skipped", entry=assessment.run, reasons=("up to date",))
        if assessment.key is None:
            outcome: Outcome = "would_run" if self.dry_run else "failed"
            return StageResult(stage.name, outcome, reasons=assessment.reasons)
        restored = self._restore(stage, assessment)
        if restored is not None:
            return restored
        if self.dry_run:
            return StageResult(stage.name, "would_run", reasons=assessment.reasons)
        self.gates.command_starts(stage)  # GX loads meanwhile; a broken suite raises
        if self.outputs is not None:
            with self._lock:
                notices = self.outputs.clear(stage, assessment.outputs)
            for text in notices:
                self.observer.notice(stage.name, text)
        self.observer.stage_started(stage.name, stage.cmd)
        run_id = self.lineage.started(stage, assessment)
        execution = self._execute(stage)
        execution.lineage_run_id = run_id
        try:
            self.gates.command_done(stage.name)  # raises if stopped for a refused suite
        except Error:
            self.lineage.aborted(run_id)  # a property of the suite: nothing is recorded
            raise
        if remote_deps and execution.failure is None:
            from auditpipe.storage.objects import changed

            try:
                moved = changed(remote_deps)
            except Error as exc:  # e.g. credentials expired while the stage ran
                moved = []
                execution.failure = f"cannot re-check the object-store deps: {exc.diagnostics()}"
            if moved:
                execution.failure = (
                    f"{', '.join(moved)} changed while the stage ran (ETag, size or "
                    "last-modified); the recorded digest may not be what the stage read — "
                    "run again once the data is stable"
                )
        if self._stop.is_set() and execution.exit_code is not None and execution.exit_code < 0:
            self.lineage.aborted(run_id)
            return StageResult(stage.name, "not_run", reasons=("interrupted",))
        if stage.validate and execution.exit_code == 0 and execution.failure is None:
            data = ", ".join(dict.fromkeys(d for d, _suite in stage.validate))
            loading = "" if self.gates.ready else "loading Great Expectations, then "
            self.observer.working(stage.name, f"{loading}validating {data}")
            try:
                execution.validations, failure = self.gates.validate(stage)
            except Error:
                self.lineage.aborted(run_id)  # an unusable suite: nothing is recorded
                raise
            finally:
                self.observer.working(stage.name, None)
            execution.failure = execution.failure or failure
        with self._lock:
            entry = self.recorder.record(stage, assessment, execution)
            self.lineage.recorded(run_id, entry)
        outcome = "ran" if execution.exit_code == 0 and not execution.failure else "failed"
        reasons = (execution.failure,) if execution.failure else assessment.reasons
        failed_gates = [v for v in execution.validations if not v.success]
        if outcome == "ran" and failed_gates:
            from auditpipe.gates import gate_summary

            outcome = "gate_failed"
            reasons = tuple(gate_summary(v) for v in failed_gates)
            reasons += self._quarantine(stage, entry)
        if outcome == "ran" and self.outputs is not None:
            with self._lock:
                notices = self.outputs.keep(stage, self.planner.ledger.get(entry))
            for text in notices:
                self.observer.notice(stage.name, text)
        return StageResult(
            stage.name, outcome, time.monotonic() - start, entry, execution.exit_code, reasons
        )

    def _quarantine(self, stage: StageSpec, entry: str) -> tuple[str, ...]:
        """Move a gate_failed run's outputs out of the tree; say where they went."""
        if self.state_dir is None:
            return ()
        from auditpipe.pipeline.quarantine import quarantine, quarantine_dir

        moved = quarantine(Path(self.root), self.state_dir, entry, stage.all_outputs)
        if not moved:
            return ()
        where = quarantine_dir(self.state_dir, entry)
        shown = os.path.relpath(where, self.root) if where.is_relative_to(self.root) else where
        return (f"quarantined {', '.join(moved)} in {shown}/",)

    def _restore(self, stage: StageSpec, assessment: Assessment) -> StageResult | None:
        """Put back the products of a successful run with this very key, from the
        cache (local, else remote), instead of running; ``None`` when neither can."""
        if self.outputs is None or not assessment.cached:
            return None
        with self._lock:
            entries = [self.planner.ledger.get(run_id) for run_id in assessment.cached]
            entries = [e for e in entries if self.planner.trust.trusted(e)]  # as the remote's
            chosen = next((e for e in entries if self.outputs.restorable(stage, e)), None)
        if chosen is None:
            chosen = self._fetch(stage, entries)  # downloads outside the lock
        if chosen is None:
            return None
        if self.dry_run:
            return StageResult(
                stage.name, "would_restore", entry=chosen.id, reasons=assessment.reasons
            )
        with self._lock:
            notices = self.outputs.restore(stage, chosen, assessment.outputs)
        for text in notices:
            self.observer.notice(stage.name, text)
        return StageResult(
            stage.name,
            "restored",
            entry=chosen.id,
            reasons=("stage is cached — restored outputs", *assessment.reasons),
        )

    def _fetch(self, stage: StageSpec, entries: Sequence[Entry]) -> Entry | None:
        remote = self.outputs.remote if self.outputs is not None else None
        if remote is None or self.outputs is None:
            return None

        def notice(text: str) -> None:
            self.observer.notice(stage.name, text)

        return remote.first(stage, entries, self.outputs, dry_run=self.dry_run, notice=notice)

    def _execute(self, stage: StageSpec) -> Execution:
        """Run the stage's command through the command executor (local or a cluster)."""
        from auditpipe.pipeline.executors import CommandJob
        from auditpipe.pipeline.facts import now_rfc3339

        execution = Execution(started_at=now_rfc3339())
        env = {k: os.environ[k] for k in (*BASE_ENV, *stage.env) if k in os.environ}
        env["AUDITPIPE_STAGE"] = stage.name
        job = CommandJob(
            stage=stage.name,
            cmd=stage.cmd,
            cwd=os.path.join(self.root, stage.wdir),
            env=env,
            resources=stage.resources,
            retries=stage.retries,
        )

        def output(stream: str, raw: bytes) -> None:
            (execution.stdout if stream == "stdout" else execution.stderr).extend(raw)
            self.observer.output(stage.name, stream, raw.decode("utf-8", "replace").rstrip("\n"))

        outcome = self.commands.launch(job, output)
        execution.exit_code, execution.placement = outcome.exit_code, outcome.placement
        execution.finished_at = now_rfc3339()
        if outcome.failure is not None:
            execution.failure = outcome.failure
        elif execution.exit_code != 0:
            execution.failure = f"command exited with {execution.exit_code}"
        else:
            missing = [o for o in stage.all_outputs if not output_exists(self.root, o)]
            if missing:
                execution.failure = (
                    f"command succeeded but did not write {', '.join(missing)}"
                    + self.commands.missing_hint
                )
        return execution


def _blocks(result: StageResult) -> bool:
    return result.outcome in ("failed", "gate_failed", "not_run")
