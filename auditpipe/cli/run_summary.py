"""The summary ``run`` prints on stderr: one row per stage, the counts, and the
up-to-date line; loadable without the CLI framework (the no-op fast path prints it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.markup import escape
from rich.table import Table

from auditpipe.cli.console import err


class StageResult(Protocol):
    """What the summary reads of a stage's result (``pipeline.executor.StageResult``)."""

    @property
    def stage(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def duration(self) -> float: ...
    @property
    def entry(self) -> str | None: ...
    @property
    def reasons(self) -> tuple[str, ...]: ...


TABLE_WIDTH = 120


def summary(results: Sequence[StageResult]) -> None:
    """The table of what each stage did, the counts, and whether all is up to date."""
    table = Table(title="auditpipe run", title_justify="left")
    for column in ("stage", "result", "duration", "entry / reason"):
        table.add_column(column, overflow="fold")  # long paths wrap in the cell, never cut
    for r in results:
        recorded = r.outcome in ("ran", "skipped", "restored", "failed", "gate_failed") and r.entry
        detail = r.entry[:12] if recorded and r.entry else ""
        if r.outcome not in ("ran", "skipped", "restored") and r.reasons:
            detail = f"{detail} {'; '.join(r.reasons)}".strip()
        duration = f"{r.duration:.2f}s" if r.outcome in ("ran", "failed", "gate_failed") else "-"
        table.add_row(escape(r.stage), r.outcome.replace("_", " "), duration, escape(detail))
    # Where nothing wraps for us (a CI log), a readable width rather than one long row.
    err.print(table, width=None if err.is_terminal else TABLE_WIDTH)
    counts = {
        k: sum(1 for r in results if r.outcome == k)
        for k in (
            *("ran", "skipped", "restored", "failed", "gate_failed", "not_run"),
            *("would_run", "would_restore"),
        )
    }
    err.print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v))
    if all(r.outcome == "skipped" for r in results):
        err.print("every stage is up to date")
    elif all(r.outcome in ("skipped", "restored") for r in results):
        err.print("every stage is up to date (restored from the cache)")
