"""Is a recorded run still valid for the tree being judged?

A run is fresh when, in the working tree, its stage's definition, the digests of
its dependencies that no stage produces (code and source data), the param
values it reads and its suites all still give the stage key it recorded. Data
produced by other runs is checked through those runs, so a checkout without
generated files (a CI clone) can still be judged, and commits that only add
results or touch unrelated files never make a run stale.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from auditpipe.errors import Error
from auditpipe.manifest.predicates import StageRun
from auditpipe.provenance.current import current_digest


class TreeState:
    """The pipeline spec and params of the tree being judged (loaded once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spec: Any = None
        self.params: dict[str, Any] = {}
        self.error: str | None = None
        try:
            from auditpipe.pipeline.dag import build_dag
            from auditpipe.pipeline.spec import load_params, load_pipeline

            if (root / "auditpipe.yaml").exists():
                self.spec = load_pipeline(root)
                self.dag = build_dag(self.spec)
                self.params = load_params(self.spec)
        except Error as exc:
            self.error = exc.diagnostics()


def stale_reasons(run: StageRun, tree: TreeState) -> list[str]:
    """Why ``run`` no longer describes the tree (empty when it still does)."""
    recorded = {m.name: m for m in run.materials}
    if run.stage_key and tree.spec is not None:
        return _by_stage_key(run, tree, recorded)
    # Recorded by hand (`auditpipe record` / record_stage): compare the inputs
    # no run produced, and the code dependencies.
    reasons = []
    for name, material in recorded.items():
        if material.produced_by:
            continue
        now = current_digest(tree.root, name)
        if now != material.digest.sha256:
            reasons.append(_changed(name, material.digest.sha256, now))
    for name, digest in run.code.deps.items():
        now = current_digest(tree.root, name)
        if name not in recorded and now != digest:
            reasons.append(_changed(name, digest, now))
    return reasons


def _by_stage_key(run: StageRun, tree: TreeState, recorded: dict[str, Any]) -> list[str]:
    from auditpipe.fingerprint import fingerprint_many
    from auditpipe.pipeline.spec import select_params
    from auditpipe.pipeline.stagekey import stage_key

    stage = tree.spec.stages.get(run.stage)
    if stage is None:
        return [f"stage {run.stage} is no longer in auditpipe.yaml"]
    reasons: list[str] = []
    deps: dict[str, str] = {}
    to_hash = []
    for dep in stage.deps:
        material = recorded.get(dep)
        if tree.dag.producer(dep) is not None and material is not None:
            deps[dep] = material.digest.sha256  # judged through the run that produced it
        else:
            to_hash.append(dep)
    present = [d for d in to_hash if (tree.root / d).exists()]
    for fp in fingerprint_many([str(tree.root / p) for p in present], root=tree.root):
        deps[fp.path] = fp.sha256
    for dep in to_hash:
        material = recorded.get(dep)
        before = material.digest.sha256 if material else None
        if deps.get(dep) != before:
            reasons.append(_changed(dep, before, deps.get(dep)))
    try:
        params = select_params(tree.params, stage.params, params_path=tree.spec.params_file)
    except Error as exc:
        return [exc.message]
    for key, value in params.items():
        if run.params.get(key) != value:
            reasons.append(f"param {key} is {value!r} now, the run used {run.params.get(key)!r}")
    suites = {}
    for _data, suite in stage.validate:
        try:
            suites[suite] = hashlib.sha256((tree.root / suite).read_bytes()).hexdigest()
        except OSError:
            suites[suite] = "missing"
    key = stage_key(stage, deps, params, suites)
    if key != run.stage_key and not reasons:
        reasons.append("the stage definition, its command or its suites changed")
    return reasons


def _changed(name: str, before: str | None, now: str | None) -> str:
    if now is None:
        return f"{name} is missing from the tree"
    if before is None:
        return f"{name} is a new dependency"
    return f"{name} changed since the run ({before[:12]} -> {now[:12]})"
