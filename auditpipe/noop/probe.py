"""Is every selected stage up to date, answered from the verified state alone?

Recomputes what the planner would key a stage by (definition, dependency
digests from the stat cache, param values, suite digests) and the digests of
its outputs, and compares them with the verdicts the full path recorded for
this very ledger head, lock and trust set. Any difference, miss or doubt
answers None: the full path decides.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditpipe.noop.state import (
    NoopState,
    file_digest,
    find_repository,
    ledger_head,
    read_state,
    trust_digest,
)

LOCK_FILE = "auditpipe.lock"
# Names printed as they are by the terminal renderer (no markup, no emoji codes).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.@+-]+")


@dataclass(frozen=True)
class Row:
    stage: str
    run: str | None
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "upToDate": True, "run": self.run, "reasons": [*self.reasons]}


@dataclass(frozen=True)
class Noop:
    """Every selected stage is up to date: the rows ``status`` prints."""

    root: Path
    git_dir: Path
    rows: list[Row]
    spec: Any
    """The ``PipelineSpec``."""
    params: dict[str, Any]
    state: NoopState


def probe(start: Path, stages: list[str] | None) -> Noop | None:
    """The rows of a no-op ``status``, or None when the full path must answer."""
    found = find_repository(start)
    if found is None or os.environ.get("AUDITPIPE_TRUST_REF"):
        return None
    root, git_dir = found
    state = read_state(git_dir)
    if state is None or not _same_world(state, root, git_dir):
        return None
    from auditpipe.errors import Error

    try:
        return _rows(root, git_dir, state, stages)
    except (Error, OSError):
        return None  # the full path reports it


def _same_world(state: NoopState, root: Path, git_dir: Path) -> bool:
    return (
        ledger_head(git_dir) == state.head
        and file_digest(root / LOCK_FILE) == state.lock
        and trust_digest(root) == state.trust
    )


def _rows(root: Path, git_dir: Path, state: NoopState, stages: list[str] | None) -> Noop | None:
    from auditpipe.fingerprint.api import cached_digests
    from auditpipe.fingerprint.statcache import StatCache
    from auditpipe.pipeline.dag import build_dag
    from auditpipe.pipeline.params import missing_params
    from auditpipe.pipeline.spec import load_params, load_pipeline
    from auditpipe.pipeline.stagekey import StageInputs, stage_key

    spec = load_pipeline(root)
    dag = build_dag(spec)
    order = list(dag.select(stages)) if stages else list(dag.order())
    chosen = [spec.stages[name] for name in order]
    paths: set[str] = set()
    for stage in chosen:
        if not _PLAIN_NAME.fullmatch(stage.name) or stage.content or stage.always_changed:
            return None
        paths.update(stage.all_outputs)
        if not stage.frozen:
            paths.update(stage.deps)
    if any("://" in p for p in paths):
        return None  # object-store paths: their own (metadata) cache, on the full path
    ordered = sorted(paths)
    base = str(root)
    if not all(os.path.lexists(os.path.join(base, p)) for p in ordered):  # a dangling link counts
        return None
    with StatCache(StatCache.default_path(git_dir)) as cache:
        digests = cached_digests(ordered, root=root, cache=cache)
    if digests is None:
        return None
    params_doc = load_params(spec)
    inputs = StageInputs(spec, params_doc)
    rows = []
    for stage in chosen:
        if stage.frozen:
            rows.append(Row(stage.name, None, ("frozen",)))
            continue
        verdict = state.stages.get(stage.name)
        if verdict is None or missing_params(params_doc, stage.params):
            return None
        deps = {d: digests[d] for d in stage.deps}
        key = stage_key(stage, deps, inputs.params_for(stage), inputs.suites_for(stage))
        outputs = {o: digests[o] for o in stage.all_outputs}
        if key != verdict.key or outputs != verdict.outputs:
            return None
        rows.append(Row(stage.name, verdict.run, ()))
    return Noop(root, git_dir, rows, spec, params_doc, state)
