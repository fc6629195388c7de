"""RunEvents (OpenLineage spec 2-0-2) for one stage run, as plain JSON documents.

The same functions serve the live run and the backfill: START from what is
known when the stage starts (its inputs' fingerprints, its outputs' names),
COMPLETE or FAIL from the signed entry itself, so an export of the ledger
reproduces what was sent (same run id, same facets; only a live START's
``eventTime`` is the moment of sending rather than the signed ``startedAt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from auditpipe import __version__
from auditpipe.export.openlineage import facets as f
from auditpipe.export.openlineage.naming import dataset, job_namespace, repository_url
from auditpipe.export.openlineage.runid import run_id_of
from auditpipe.export.openlineage.screen import screen
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.layout import entry_path_str
from auditpipe.manifest.predicates import Material, StageRun
from auditpipe.workspace import Workspace

EVENT_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
LEDGER_REF = "refs/heads/auditpipe/ledger"
EventType = Literal["START", "COMPLETE", "FAIL", "ABORT"]


@dataclass(frozen=True)
class EventContext:
    """Where events are reported: the job namespace and how datasets are named."""

    root: Path
    namespace: str
    repository: str
    """URL of the code repository (the ``origin`` remote, else the local folder)."""
    column_stats: bool = False

    @classmethod
    def of(
        cls, workspace: Workspace, namespace: str | None = None, column_stats: bool = False
    ) -> EventContext:
        return cls(
            root=workspace.root,
            namespace=job_namespace(workspace, namespace),
            repository=repository_url(workspace) or workspace.root.as_uri(),
            column_stats=column_stats,
        )


@dataclass(frozen=True)
class StageStart:
    """What is known about a stage run when it starts."""

    run_id: str
    stage: str
    command: str | None
    params: dict[str, Any]
    stage_key: str | None
    commit: str | None
    inputs: tuple[Material, ...]
    outputs: tuple[str, ...]
    started_at: str

    @classmethod
    def of_run(cls, entry_id: str, run: StageRun) -> StageStart:
        """The start of a signed run, as the live START described it."""
        return cls(
            run_id=run_id_of(entry_id, run.openlineage_run_id),
            stage=run.stage,
            command=run.command,
            params=run.params,
            stage_key=run.stage_key,
            commit=run.code.commit,
            inputs=tuple(run.materials),
            outputs=tuple(sorted(p.name for p in run.products)),
            started_at=run.started_at,
        )


def start_event(ctx: EventContext, start: StageStart, at: str | None = None) -> dict[str, Any]:
    """START: inputs with their fingerprints' facets, outputs by name."""
    return _event(
        "START",
        at or start.started_at,
        ctx,
        start,
        _run_facets(start),
        [{**_dataset(ctx, name), "facets": {}, "outputFacets": {}} for name in start.outputs],
    )


def abort_event(ctx: EventContext, start: StageStart, at: str) -> dict[str, Any]:
    """ABORT: the run was interrupted and not recorded."""
    return _event("ABORT", at, ctx, start, _run_facets(start), [])


def end_event(ctx: EventContext, entry: Entry) -> dict[str, Any]:
    """COMPLETE (succeeded) or FAIL (failed command or gate), from the signed entry."""
    run = entry.signed.stage_run()
    if run is None:
        raise ValueError(f"entry {entry.id} is not a stage run")
    start = StageStart.of_run(entry.id, run)
    run_facets = _run_facets(start)
    run_facets["auditpipe"].update(
        entryId=entry.id,
        status=run.status,
        signer=entry.bundle.key_hint or ("keyless" if entry.bundle.is_keyless else None),
        ledger=LEDGER_REF,
        entryPath=entry_path_str(entry.id),
        verify=f"auditpipe show {entry.id} && auditpipe verify --ledger",
    )
    if run.status != "succeeded":
        run_facets["errorMessage"] = f.facet(
            "errorMessage", message=_failure(run), programmingLanguage="shell"
        )
    outputs = []
    for product in run.products:
        out = _dataset(ctx, product.name)
        out["facets"] = f.dataset_facets(product)
        gates = f.assertions([v for v in run.validations if v.data == product.name])
        if gates is not None:
            out["facets"]["dataQualityAssertions"] = gates
        out["outputFacets"] = f.output_facets(product)
        outputs.append(out)
    kind: EventType = "COMPLETE" if run.status == "succeeded" else "FAIL"
    return _event(kind, run.finished_at, ctx, start, run_facets, outputs)


def events_of(ctx: EventContext, entry: Entry) -> list[dict[str, Any]]:
    """START and COMPLETE/FAIL of a signed stage run (the backfill)."""
    run = entry.signed.stage_run()
    if run is None:
        return []
    return [start_event(ctx, StageStart.of_run(entry.id, run)), end_event(ctx, entry)]


def _event(
    kind: EventType,
    at: str,
    ctx: EventContext,
    start: StageStart,
    run_facets: dict[str, Any],
    outputs: list[dict[str, Any]],
) -> dict[str, Any]:
    job_facets: dict[str, Any] = {
        "jobType": f.facet(
            "jobType", processingType="BATCH", integration="AUDITPIPE", jobType="STAGE"
        )
    }
    if start.commit:
        job_facets["sourceCodeLocation"] = f.facet(
            "sourceCodeLocation", type="git", url=ctx.repository, version=start.commit
        )
    return {
        "eventType": kind,
        "eventTime": at,
        "producer": f.PRODUCER,
        "schemaURL": EVENT_SCHEMA_URL,
        "run": {"runId": start.run_id, "facets": run_facets},
        "job": {"namespace": ctx.namespace, "name": start.stage, "facets": job_facets},
        "inputs": [_input(ctx, m) for m in start.inputs],
        "outputs": outputs,
    }


def _run_facets(start: StageStart) -> dict[str, Any]:
    params, command = screen(start.params, start.command)
    return {
        "processing_engine": f.facet("processing_engine", name="auditpipe", version=__version__),
        "auditpipe": f.facet(
            "auditpipe", stage=start.stage, command=command, params=params, stageKey=start.stage_key
        ),
    }


def _input(ctx: EventContext, material: Material) -> dict[str, Any]:
    out = _dataset(ctx, material.name)
    out["facets"] = f.dataset_facets(material)
    out["inputFacets"] = f.input_facets(material, ctx.column_stats)
    return out


def _dataset(ctx: EventContext, name: str) -> dict[str, Any]:
    namespace, path = dataset(ctx.root, name)
    return {"namespace": namespace, "name": path}


def _failure(run: StageRun) -> str:
    failed = [v for v in run.validations if not v.success]
    if run.status == "gate_failed" and failed:
        return "; ".join(f"validation suite {v.suite!r} failed on {v.data}" for v in failed)
    if run.exit_code not in (None, 0):
        return f"command exited with {run.exit_code}"
    return "the command did not produce its declared outputs"
