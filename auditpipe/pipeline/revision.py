"""What a git revision says about the pipeline: its params and which runs it resolves to.

``diff REV REV`` compares two revisions. Runs are resolved per stage from the
revision's ``auditpipe.lock`` when it has one (the run whose outputs are in that
tree), else from the ledger: the latest successful run recorded at or before
the commit whose params are the revision's params (a run made before the edit
was committed still has the previous commit as its code commit). The params
files at both revisions are compared directly, so a change nobody ran yet is
still shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditpipe.errors import ConfigError, EntryNotFound
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.lock.files import LOCK_FILE, stages_in
from auditpipe.pipeline.diff import flatten
from auditpipe.pipeline.spec import DEFAULT_PARAMS_FILE, PIPELINE_FILE
from auditpipe.pipeline.yamlpos import load_data
from auditpipe.workspace import Workspace


@dataclass(frozen=True)
class Resolution:
    """The runs a revision resolved to, and how."""

    commit: str
    runs: Mapping[str, Entry]
    source: str
    """``auditpipe.lock`` or ``ledger``."""
    params: Mapping[str, Any] | None
    """The revision's params file, flattened (``None`` when it has none)."""


def file_at(workspace: Workspace, commit: str, rel: str) -> bytes | None:
    """The bytes of ``rel`` in ``commit``'s tree, or ``None`` when it is absent."""
    from dulwich.object_store import tree_lookup_path
    from dulwich.objects import Blob

    repo = workspace.open()
    try:
        tree = repo[commit.encode()].tree  # type: ignore[attr-defined]
        try:
            _mode, sha = tree_lookup_path(repo.object_store.__getitem__, tree, rel.encode())
        except KeyError:
            return None
        blob = repo[sha]
        return blob.as_raw_string() if isinstance(blob, Blob) else None
    finally:
        repo.close()


def params_at(workspace: Workspace, commit: str) -> dict[str, Any] | None:
    """The params file named by the revision's pipeline, flattened to dotted keys."""
    path = DEFAULT_PARAMS_FILE
    pipeline = file_at(workspace, commit, PIPELINE_FILE)
    if pipeline is not None:
        doc = _quiet_load(pipeline, f"{PIPELINE_FILE}@{commit[:12]}")
        if isinstance(doc, dict) and isinstance(doc.get("params"), str):
            path = doc["params"]
    data = file_at(workspace, commit, path)
    if data is None:
        return None
    where = f"{path}@{commit[:12]}"
    values = load_data(data, where=where, toml=path.endswith(".toml"))
    return flatten(values) if isinstance(values, dict) else None


def resolve_runs(ledger: Ledger, commit: str) -> Resolution:
    """The runs ``commit`` resolves to (see the module docstring)."""
    workspace = ledger.workspace
    params = params_at(workspace, commit)
    lock = file_at(workspace, commit, LOCK_FILE)
    if lock is not None:
        runs = {}
        for stage, entry_id in stages_in(lock, f"{commit[:12]}:{LOCK_FILE}").items():
            try:
                runs[stage] = ledger.get(ledger.resolve(entry_id))
            except EntryNotFound:
                continue
        if runs:
            return Resolution(commit, runs, LOCK_FILE, params)
    from auditpipe.pipeline.diff import runs_at_revision

    return Resolution(commit, runs_at_revision(ledger, commit, params), "ledger", params)


def _quiet_load(data: bytes, where: str) -> Any:
    try:
        return load_data(data, where=where)
    except ConfigError:
        return None


def diff_revisions(
    ledger: Ledger, before: str, after: str
) -> tuple[Resolution, Resolution, list[Any]]:
    """Both revisions' resolutions and, per stage, what differs between them:
    the runs' differences plus the params files' (see :func:`param_changes`)."""
    from auditpipe.pipeline.diff import Change, RunDiff, diff_runs

    left, right = resolve_runs(ledger, before), resolve_runs(ledger, after)
    selectors = _selectors(ledger.workspace)
    diffs: list[RunDiff] = []
    claimed: set[str] = set()
    for stage in sorted(set(left.runs) | set(right.runs) | set(selectors)):
        ea, eb = left.runs.get(stage), right.runs.get(stage)
        if ea is None and eb is None:
            changes: list[Change] = []
            run_diff = RunDiff(stage, None, None, changes)
        else:
            ra = ea.signed.stage_run() if ea else None
            rb = eb.signed.stage_run() if eb else None
            run_diff = diff_runs(ra, rb, ea.id if ea else None, eb.id if eb else None, stage)
        keys = [k for k in _changed(left.params, right.params) if _reads(selectors.get(stage), k)]
        claimed.update(keys)
        shown = {c.key for c in run_diff.changes if c.what == "param"}
        for key in keys:
            if key not in shown:
                run_diff.changes.append(Change("param", key, _get(left, key), _get(right, key)))
        if run_diff.changes or ea is not None or eb is not None:
            diffs.append(run_diff)
    rest = [k for k in _changed(left.params, right.params) if k not in claimed]
    if rest:
        changes = [Change("param", k, _get(left, k), _get(right, k)) for k in rest]
        diffs.append(RunDiff("(read by no stage)", None, None, changes))
    return left, right, diffs


def _selectors(workspace: Workspace) -> dict[str, tuple[str, ...]]:
    """Each stage's params selectors, from the working tree's pipeline (if it loads)."""
    from auditpipe.pipeline.spec import load_pipeline

    try:
        spec = load_pipeline(workspace.root)
    except ConfigError:
        return {}
    return {name: tuple(stage.params) for name, stage in spec.stages.items()}


def _reads(selectors: tuple[str, ...] | None, key: str) -> bool:
    return any(key == s or key.startswith(s + ".") for s in selectors or ())


def _changed(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[str]:
    a, b = a or {}, b or {}
    return sorted(k for k in set(a) | set(b) if a.get(k, _MISSING) != b.get(k, _MISSING))


def _get(resolution: Resolution, key: str) -> Any:
    return (resolution.params or {}).get(key)


_MISSING = object()
