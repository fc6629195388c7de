"""The executor's hook for lineage: told when a stage starts, is recorded, or is aborted.

``started`` makes the run's OpenLineage id (UUID v7), which the executor puts
in the signed run; ``recorded`` gets the signed entry (COMPLETE or FAIL, by its
status); ``aborted`` an interrupted run that was not recorded. Listeners never
raise and never block a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from auditpipe.export.openlineage.runid import new_run_id

if TYPE_CHECKING:
    from auditpipe.pipeline.planner import Assessment
    from auditpipe.pipeline.spec import StageSpec


class RunListener(Protocol):
    def started(self, stage: StageSpec, assessment: Assessment) -> str: ...
    def recorded(self, run_id: str, entry_id: str) -> None: ...
    def aborted(self, run_id: str) -> None: ...


class QuietListener:
    """No lineage backend configured: only the run id is made."""

    def started(self, stage: StageSpec, assessment: Assessment) -> str:
        return new_run_id()

    def recorded(self, run_id: str, entry_id: str) -> None:
        return None

    def aborted(self, run_id: str) -> None:
        return None
