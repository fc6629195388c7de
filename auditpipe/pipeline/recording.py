"""Build and sign the stage-run manifest for a stage the executor ran."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from auditpipe.errors import ConfigError, ManifestError
from auditpipe.faults import os_fault
from auditpipe.fingerprint import Fingerprint
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import (
    CardRef,
    Digest,
    ExecutorInfo,
    Logs,
    Material,
    PipelineRef,
    RunStatus,
    StageRun,
    Validation,
)
from auditpipe.manifest.statement import SignedStatement, Subject, build_statement
from auditpipe.pipeline import facts
from auditpipe.pipeline.executor import Execution
from auditpipe.pipeline.executors.interface import Placement
from auditpipe.pipeline.planner import Assessment, Planner
from auditpipe.pipeline.recorder import CODE_SUFFIXES, material, producer_of, sign_and_append
from auditpipe.pipeline.spec import PipelineSpec, StageSpec
from auditpipe.secrets import EnvRecord, SecretGuard, command_key, redact, write_private
from auditpipe.signing.interface import Signer, Verifier


def read_metrics(root: Path, paths: tuple[str, ...]) -> dict[str, Any]:
    """Merge the stage's metrics files (JSON or YAML mappings) into one dict."""
    merged: dict[str, Any] = {}
    for rel in paths:
        path = root / rel
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except FileNotFoundError:
            continue
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"cannot read metrics file: {exc}",
                path=rel,
                hint="metrics files must be JSON or YAML mappings",
            ) from exc
        if not isinstance(data, dict):
            raise ConfigError("metrics file is not a mapping", path=rel)
        for key, value in data.items():
            merged[key if key not in merged else f"{Path(rel).stem}.{key}"] = value
    return merged


def stage_run_statement(
    ledger: Ledger,
    *,
    stage: str,
    command: str | None,
    succeeded: bool,
    deps: Mapping[str, Fingerprint],
    outputs: Mapping[str, Fingerprint],
    params: dict[str, Any],
    metrics: dict[str, Any],
    env: EnvRecord,
    started_at: str,
    finished_at: str,
    exit_code: int | None,
    pipeline: PipelineRef | None = None,
    stage_key: str | None = None,
    logs: Logs | None = None,
    validations: Sequence[Validation] = (),
    executor: ExecutorInfo | None = None,
    guard: SecretGuard | None = None,
    watched: Sequence[str] = (),
    cards: Sequence[CardRef] = (),
    openlineage_run_id: str | None = None,
    producers: Verifier | None = None,
) -> SignedStatement:
    """The canonical stage-run statement; shared by ``run`` and ``record_stage``.
    ``producers``: link inputs only to runs this verifier vouches for.

    A command that succeeded but whose data failed a validation gate is
    ``gate_failed``. Outputs become subjects only when the run succeeded and
    passed its gates: a failed run is evidence (its outputs are still listed
    as products), not a producer of artifacts. The command and params are
    checked for secrets once more here, the one place every run is built.
    """
    guard = guard or SecretGuard()
    if command is not None:
        guard.check_text("command", command_key(stage), command)
    guard.check_params(params)
    root = ledger.workspace.root
    materials = [
        profiled(material(fp, producer_of(ledger, fp.sha256, producers)), root)
        for _p, fp in sorted(deps.items())
    ]
    # Inputs another signed run produced are lineage, judged through that run,
    # even when committed: only the rest can make this run's code state dirty.
    source_deps = [m.name for m in materials if m.produced_by is None]
    products = [profiled(material(fp), root) for _p, fp in sorted(outputs.items())]
    code_deps = [d for d in deps if Path(d).suffix.lower() in CODE_SUFFIXES]
    status: RunStatus = "succeeded" if succeeded else "failed"
    if succeeded and any(not v.success for v in validations):
        status = "gate_failed"
    try:
        predicate = StageRun(
            stage=stage,
            status=status,
            command=command,
            pipeline=pipeline,
            stage_key=stage_key,
            code=facts.code_state(ledger.workspace, code_deps, [*source_deps, *watched]),
            materials=materials,
            products=products,
            params=params,
            metrics=metrics,
            validations=list(validations),
            environment=facts.environment(env),
            logs=logs,
            started_at=started_at,
            finished_at=finished_at,
            exit_code=exit_code,
            runner=facts.runner(),
            cards=list(cards) or None,
            openlineage_run_id=openlineage_run_id,
            executor=executor,
        )
    except ValidationError as exc:
        from auditpipe.manifest.statement import describe_validation

        raise ManifestError(f"cannot record stage {stage!r}: {describe_validation(exc)}") from exc
    subjects = (
        [Subject(name=p.name, digest={"sha256": p.digest.sha256}) for p in products]
        if status == "succeeded"
        else []
    )
    return build_statement(subjects, predicate)


def profiled(item: Material, root: Path) -> Material:
    """The material with a drift profile when profiles are on and the table is small enough."""
    from auditpipe.fingerprint.profile import profile_limit, profile_table

    limit = profile_limit()
    if not limit or not item.table or item.kind != "file" or (item.size or 0) > limit:
        return item
    fmt = str(item.table.get("format", ""))
    profile = profile_table(root / item.name, fmt)
    return item.model_copy(update={"table": {**item.table, "profile": profile}})


class PipelineRecorder:
    """Signs each executed run into the ledger (the executor's ``Recorder``)."""

    def __init__(
        self,
        spec: PipelineSpec,
        ledger: Ledger,
        planner: Planner,
        signer: Signer,
        *,
        state_dir: Path,
        guard: SecretGuard | None = None,
    ) -> None:
        self.spec, self.ledger, self.planner, self.signer = spec, ledger, planner, signer
        self.logs_dir = state_dir / "logs"
        self.guard = guard or SecretGuard.of(spec.secrets_allow)

    def record(self, stage: StageSpec, assessment: Assessment, execution: Execution) -> str:
        succeeded = execution.exit_code == 0 and execution.failure is None
        outputs = self.planner.fingerprints(stage.all_outputs, content=stage.content)
        env = self.guard.split_env(
            stage.env, os.environ, public=stage.env_public, secret=stage.env_secret
        )
        # The kept logs and their signed digests are of the redacted streams: a
        # digest of a stream holding a secret would let anyone test guesses of it.
        stdout = redact(bytes(execution.stdout), env.secret_values)
        stderr = redact(bytes(execution.stderr), env.secret_values)
        statement = stage_run_statement(
            self.ledger,
            stage=stage.name,
            command=stage.cmd,
            succeeded=succeeded,
            deps=assessment.deps,
            outputs=outputs,
            params=dict(assessment.params),
            metrics=read_metrics(self.spec.root, stage.metrics + stage.reads_metrics)
            if succeeded
            else {},
            env=env,
            started_at=execution.started_at,
            finished_at=execution.finished_at,
            exit_code=execution.exit_code,
            pipeline=PipelineRef(
                path=self.spec.path.relative_to(self.spec.root).as_posix(),
                sha256=self.spec.sha256,
            ),
            stage_key=assessment.key,
            logs=Logs(
                stdout=Digest(sha256=hashlib.sha256(stdout).hexdigest()),
                stderr=Digest(sha256=hashlib.sha256(stderr).hexdigest()),
            ),
            validations=execution.validations,
            executor=_executor_info(execution.placement),
            guard=self.guard,
            watched=[
                *([self.spec.params_file] if stage.params else []),
                self.spec.path.relative_to(self.spec.root).as_posix(),
            ],
            cards=[
                CardRef(name=card.name, path=card.path, sha256=card.sha256)
                for card in self.spec.artifacts.values()
                if card.path in stage.all_outputs
            ],
            openlineage_run_id=execution.lineage_run_id,
            producers=self.planner.trust,  # the runs that count for `run` are its lineage
        )
        entry_id = sign_and_append(self.ledger, self.signer, statement)
        self._keep_logs(entry_id, stdout, stderr)
        return entry_id

    def _keep_logs(self, entry_id: str, stdout: bytes, stderr: bytes) -> None:
        """Keep the redacted streams next to the repo's state, owner-only; their
        digests are signed."""
        try:
            self.logs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(self.logs_dir / f"{entry_id}.stdout", stdout)
            write_private(self.logs_dir / f"{entry_id}.stderr", stderr)
        except OSError as exc:
            fault = os_fault(exc, verb="write")
            fault.message += f" (run {entry_id[:12]} is recorded; only its log copy is missing)"
            raise fault from exc


def _executor_info(placement: Placement | None) -> ExecutorInfo | None:
    """The signed ``executor`` object; absent for local runs, as before executors existed."""
    if placement is None:
        return None
    try:
        return ExecutorInfo.model_validate(
            {
                "kind": placement.kind,
                "nodeId": placement.node_id,
                "address": placement.address,
                "version": placement.version,
                "worker": dict(placement.worker) if placement.worker is not None else None,
            }
        )
    except ValidationError as exc:
        from auditpipe.manifest.statement import describe_validation

        raise ManifestError(
            f"the executor reported an unusable placement: {describe_validation(exc)}"
        ) from exc
