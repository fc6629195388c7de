"""Compare two stage runs, or the runs recorded at two git revisions.

The result is data (``RunDiff``): params, metrics, data digests and table
profiles (rows, columns, schema, content digest), outputs and code state that
differ. The CLI renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditpipe.errors import EntryNotFound
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import Material, StageRun


@dataclass(frozen=True)
class Change:
    what: str
    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class RunDiff:
    stage: str
    before: str | None
    after: str | None
    changes: list[Change] = field(default_factory=list)


def diff_runs(
    a: StageRun | None, b: StageRun | None, a_id: str | None, b_id: str | None, stage: str
) -> RunDiff:
    """What differs between two runs of (normally) the same stage."""
    changes: list[Change] = []
    if a is None or b is None:
        return RunDiff(stage, a_id, b_id, [Change("run", stage, a_id, b_id)])
    changes += _mapping("param", flatten(a.params), flatten(b.params))
    changes += _mapping("metric", flatten(a.metrics), flatten(b.metrics))
    changes += _materials("input", a.materials, b.materials)
    changes += _materials("output", a.products, b.products)
    for key in ("commit", "dirty"):
        before, after = getattr(a.code, key), getattr(b.code, key)
        if before != after:
            changes.append(Change("code", key, before, after))
    changes += _mapping("code dep", dict(a.code.deps), dict(b.code.deps))
    if a.command != b.command:
        changes.append(Change("command", stage, a.command, b.command))
    if a.status != b.status:
        changes.append(Change("status", stage, a.status, b.status))
    return RunDiff(stage, a_id, b_id, changes)


def runs_at_revision(
    ledger: Ledger, commit: str, params: Mapping[str, Any] | None = None
) -> dict[str, Entry]:
    """The pipeline as of ``commit``: per stage, the latest successful run whose
    code commit is ``commit`` or one of its ancestors (up-to-date stages are not
    re-run at every commit, so their last run still describes that revision).

    With ``params`` (the revision's params, flattened), a run whose recorded
    params match them wins over a later one that read other values: a run made
    before its params edit was committed records the previous commit.
    """
    history = _ancestry(ledger, commit)
    found: dict[str, list[tuple[str, Entry, bool]]] = {}
    for entry in ledger.entries():
        run = entry.signed.stage_run()
        if run is None or run.status != "succeeded" or run.code.commit not in history:
            continue
        # Values from other params files (a dvc.yaml's ``file:key``) are not compared.
        matches = params is None or all(
            params.get(k, _ABSENT) == v for k, v in flatten(run.params).items() if ":" not in k
        )
        found.setdefault(run.stage, []).append((run.finished_at, entry, matches))
    if not found:
        raise EntryNotFound(
            f"no successful stage runs were recorded at or before commit {commit[:12]}",
            hint="compare two entry ids instead",
        )
    for candidates in found.values():
        candidates.sort(key=lambda c: c[0], reverse=True)
    chosen = {s: next((e for _t, e, ok in c if ok), c[0][1]) for s, c in found.items()}
    # A downstream run is the revision's only if it read the chosen upstream runs'
    # outputs (an evaluate re-run after a new model belongs to the new revision).
    stage_of = {e.id: s for s, c in found.items() for _t, e, _ok in c}
    for _ in range(len(found)):
        changed = False
        for stage, candidates in found.items():
            fits = [e for _t, e, ok in candidates if ok and _reads_chosen(e, chosen, stage_of)]
            if fits and fits[0].id != chosen[stage].id:
                chosen[stage], changed = fits[0], True
        if not changed:
            break
    return chosen


def _reads_chosen(entry: Entry, chosen: Mapping[str, Entry], stage_of: Mapping[str, str]) -> bool:
    run = entry.signed.stage_run()
    for material in run.materials if run else ():
        producer = material.produced_by
        stage = stage_of.get(producer) if producer else None
        if stage is not None and stage in chosen and chosen[stage].id != producer:
            return False
    return True


_ABSENT = object()


def _ancestry(ledger: Ledger, commit: str) -> set[str]:
    repo = ledger.workspace.open()
    try:
        seen: set[str] = set()
        stack = [commit.encode()]
        while stack:
            sha = stack.pop()
            if sha.decode() in seen:
                continue
            seen.add(sha.decode())
            stack.extend(repo[sha].parents)  # type: ignore[attr-defined]
        return seen
    finally:
        repo.close()


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (how params and metrics are compared)."""
    out: dict[str, Any] = {}
    for key, inner in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(inner, Mapping):
            out.update(flatten(inner, name))
        else:
            out[name] = inner
    return out


def _mapping(what: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    return [
        Change(what, k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]


def _profile(m: Material) -> dict[str, Any]:
    profile: dict[str, Any] = {"sha256": m.digest.sha256, "size": m.size}
    if m.table:
        for key in ("rows", "columns", "schemaDigest", "contentDigest"):
            if key in m.table:
                profile[key] = m.table[key]
    return profile


def _materials(what: str, a: list[Material], b: list[Material]) -> list[Change]:
    before = {m.name: _profile(m) for m in a}
    after = {m.name: _profile(m) for m in b}
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, {}), after.get(name, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes.append(Change(what, f"{name} {key}", old.get(key), new.get(key)))
    return changes
