"""Lineages put on a real ledger through the Python API: fast, and shaped at will.

``record_run`` signs and appends one stage run whose inputs and outputs are
real files (fingerprinted, tables profiled), with any validations; ``dag``
builds a many-stage pipeline (sources, fan-out, merges) ending in one model.
Used by the report tests and by ``bench/report.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditpipe.fingerprint import fingerprint
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import (
    Digest,
    FailedExpectation,
    RunStatus,
    StageRun,
    Validation,
)
from auditpipe.manifest.statement import Subject, build_statement
from auditpipe.pipeline import facts
from auditpipe.pipeline.recorder import sign_and_append
from auditpipe.pipeline.recording import material
from auditpipe.signing.interface import Signer


def write(root: Path, rel: str, content: str) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return rel


def gate(
    root: Path,
    suite: str,
    data: str,
    *,
    success: bool,
    failed: Sequence[tuple[str, str]] = (),
) -> Validation:
    """A validation result for ``data`` (its file must exist); ``failed``: (type, column)."""
    suite_path = write(root, f"expectations/{suite}.json", '{"expectations": []}\n')
    return Validation(
        suite=suite,
        suite_path=suite_path,
        suite_digest=Digest(sha256=fingerprint(root / suite_path, root=root).sha256),
        data=data,
        data_digest=Digest(sha256=fingerprint(root / data, root=root).sha256),
        success=success,
        statistics={"evaluated_expectations": 3, "successful_expectations": 3 - len(failed)},
        failed_expectations=[
            FailedExpectation(
                type=kind, column=column, kwargs={"column": column}, observed={"unexpected": 2}
            )
            for kind, column in failed
        ],
    )


def record_run(
    ledger: Ledger,
    signer: Signer,
    stage: str,
    inputs: dict[str, str | None],
    outputs: Sequence[str],
    *,
    validations: Sequence[Validation] = (),
    status: RunStatus = "succeeded",
    params: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> str:
    """Sign and append a stage run; ``inputs`` maps each input to the run that made it."""
    root = ledger.workspace.root
    now = facts.now_rfc3339()
    predicate = StageRun(
        stage=stage,
        status=status,
        command=f"python src/{stage}.py",
        code=facts.code_state(ledger.workspace, []),
        materials=[material(fingerprint(root / p, root=root), by) for p, by in inputs.items()],
        products=[material(fingerprint(root / p, root=root)) for p in outputs],
        params=params or {},
        metrics=metrics or {},
        validations=list(validations),
        environment=facts.environment(),
        started_at=now,
        finished_at=facts.now_rfc3339(),
        exit_code=0 if status == "succeeded" else 1,
        runner=facts.runner(),
    )
    subjects = [
        Subject(name=m.name, digest={"sha256": m.digest.sha256}) for m in predicate.products
    ]
    return sign_and_append(ledger, signer, build_statement(subjects, predicate))


def dag(ledger: Ledger, signer: Signer, stages: int = 30, width: int = 5) -> tuple[str, list[str]]:
    """A pipeline of ``stages`` runs in layers of ``width``, each reading two runs of the
    layer above (the first layer reads CSV sources), all merged into ``models/model.bin``.

    Returns the artifact's path and the stage names.
    """
    root = ledger.workspace.root
    made: list[tuple[str, str]] = []  # (output path, run id)
    used: set[str] = set()
    names: list[str] = []
    for i in range(stages):
        name = f"stage_{i:02d}"
        layer = i // width
        if layer == 0:
            source = write(root, f"data/raw/part{i}.csv", f"id,value\n{i},{i * 1.5}\n")
            inputs: dict[str, str | None] = {source: None}
        else:
            above = made[(layer - 1) * width : layer * width]
            picks = {above[i % len(above)], above[(i * 3 + 1) % len(above)]}
            inputs = dict(sorted(picks))
        used.update(inputs)
        out = write(root, f"data/{name}.csv", f"id,value\n{i},{i}\n")
        made.append((out, record_run(ledger, signer, name, inputs, [out], metrics={"rows": i})))
        names.append(name)
    # Every output nobody read feeds the model, so every stage is on its lineage.
    ends = {path: run for path, run in made if path not in used}
    artifact = write(root, "models/model.bin", "weights\n")
    record_run(ledger, signer, "train", ends, [artifact], metrics={"accuracy": 0.93})
    names.append("train")
    return artifact, names
