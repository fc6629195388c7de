"""Which artifacts ``gate`` (and ``promote``/``report`` callers of ``judge``)
judge when they are given no paths.

The pipeline says what its artifacts are — its ``artifacts:`` model cards, else
the outputs of its final stages — and the policy's ``artifacts`` globs say which
of those it governs. A file that merely matches a glob (a model made by hand
next to the pipeline's) is judged only when named. A dvc.yaml counts as the
pipeline file. Without a pipeline file, or
with one that declares no stages (runs recorded with ``auditpipe record``), the
globs are matched in the working tree.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditpipe.pipeline.spec import PIPELINE_FILE, PipelineSpec, load_pipeline


def default_artifacts(root: Path, globs: list[str]) -> list[str]:
    """Repo-relative paths to judge when none are named (may be empty)."""
    from auditpipe.pipeline.dvc.project import is_dvc_project

    if not (root / PIPELINE_FILE).exists() and not is_dvc_project(root):
        return governed(root, globs)
    spec = load_pipeline(root)
    if not spec.stages:
        return governed(root, globs)
    declared = pipeline_artifacts(spec)
    if not globs:
        return declared
    return [path for path in declared if any(fnmatch.fnmatchcase(path, g) for g in globs)]


def pipeline_artifacts(spec: PipelineSpec) -> list[str]:
    """The model cards' paths when the pipeline has an ``artifacts:`` section,
    else :func:`final_outputs`."""
    declared = _declared_artifacts()
    cards = declared(spec) if declared is not None else []
    return list(cards) or final_outputs(spec)


def final_outputs(spec: PipelineSpec) -> list[str]:
    """``outs`` of the stages whose outputs no stage with outputs of its own reads.

    Stages that only write metrics (an evaluation) are leaves that consume the
    product rather than refine it, so the model an ``evaluate`` stage reads is
    still a final output; the features a ``train`` stage reads are not.
    """
    from auditpipe.pipeline.dag import build_dag

    dag = build_dag(spec)
    producing = {name for name, stage in spec.stages.items() if stage.outs}
    read_by: dict[str, set[str]] = {name: set() for name in spec.stages}
    for up, down, _paths in dag.edges():
        read_by[up].add(down)
    found: list[str] = []
    for name in dag.order():
        if name in producing and not (read_by[name] & producing):
            found.extend(p for p in spec.stages[name].outs if p not in found)
    return found


def governed(root: Path, globs: list[str]) -> list[str]:
    """Files in the working tree that a policy's ``artifacts`` globs match."""
    found: set[str] = set()
    for pattern in globs:
        found.update(p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def _declared_artifacts() -> Callable[[PipelineSpec], list[str]] | None:
    """``auditpipe.pipeline.artifacts.declared_artifacts`` where model cards exist."""
    import importlib

    try:  # model cards arrive with the ``artifacts:`` section (issue 15)
        artifacts = importlib.import_module("auditpipe.pipeline.artifacts")
    except ImportError:
        return None
    found: Any = getattr(artifacts, "declared_artifacts", None)
    return found if callable(found) else None
