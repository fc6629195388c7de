"""``checkout`` and ``gc``: the output cache's verbs."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.cli.pipeline_cmds import _load, _order, _planner


@app.command
def checkout(stages: list[str] | None = None, /, *, json: bool = False) -> int:
    """Restore stages' outputs from the cache: the products of the signed
    successful run whose key matches the stage as it is now.

    Parameters
    ----------
    stages
        Only these stages (and what they depend on).
    json
        Print machine-readable output.
    """
    from auditpipe.cache import open_cache
    from auditpipe.pipeline.outputs import StageOutputs

    workspace, spec, dag = _load()
    rows: list[dict[str, Any]] = []
    with _planner(workspace, spec) as (ledger, planner):
        outputs = StageOutputs(workspace.root, ledger, open_cache(workspace))
        for name in _order(dag, stages):
            stage = spec.stages[name]
            found = planner.assess(stage)
            row: dict[str, Any] = {"stage": name, "run": found.run, "notices": []}
            if found.up_to_date:
                row["result"] = "up to date"
            else:
                entry = next(
                    (
                        e
                        for e in (ledger.get(i) for i in found.cached)
                        if outputs.restorable(stage, e)
                    ),
                    None,
                )
                if entry is None:
                    row["result"] = "not restorable"
                    row["reasons"] = list(found.reasons)
                else:
                    row["notices"] = outputs.restore(stage, entry, found.outputs)
                    row["result"], row["run"] = "restored", entry.id
            rows.append(row)
    return report_restores(rows, json, "no cached run matches it")


def report_restores(rows: list[dict[str, Any]], json: bool, unrestorable: str) -> int:
    """Print what ``checkout`` / ``cache pull`` did per stage; exit 1 if any stage
    could not be restored (``unrestorable`` says why in words)."""
    failed = [r for r in rows if r["result"] == "not restorable"]
    if json:
        print_json(rows)
        return 1 if failed else 0
    for row in rows:
        for notice in row["notices"]:
            err.print(f"[yellow]! {escape(row['stage'])}[/]: {escape(notice)}")
        if row["result"] == "restored":
            out.print(f"{escape(row['stage'])}: restored outputs of run {row['run'][:12]}")
        elif row["result"] == "up to date":
            out.print(f"{escape(row['stage'])}: up to date")
        else:
            why = "; ".join(row["reasons"])
            out.print(
                f"{escape(row['stage'])}: {unrestorable} ({escape(why)}); "
                f"run `auditpipe run {escape(row['stage'])}`"
            )
    return 1 if failed else 0


@app.command
def gc(*, keep: int = 3, apply: bool = False, drop_set_aside: bool = False) -> int:
    """Remove cache objects no kept run needs (a dry run unless --apply).

    Kept: the products of runs named by auditpipe.lock on any branch or tag, of
    the newest --keep successful runs of each stage, and files set aside
    because no signed run made them (unless --drop-set-aside).

    Parameters
    ----------
    keep
        Keep the products of this many newest successful runs per stage.
    apply
        Remove the objects (without it, only say what would go).
    drop_set_aside
        Also remove files that were set aside instead of being deleted.
    """
    from auditpipe.cache import gc as cache_gc
    from auditpipe.cache import open_cache
    from auditpipe.cache.runs import kept_products
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.workspace import Workspace

    workspace = Workspace.discover()
    cache = open_cache(workspace)
    with Ledger(workspace) as ledger:
        plan = cache_gc.plan(cache, kept_products(ledger, keep), keep_set_aside=not drop_set_aside)
    size = f"{plan.size / 1e6:.1f} MB"
    if not apply:
        for oid in plan.remove:
            out.print(f"would remove {oid}")
        err.print(
            f"dry run: {len(plan.remove)} object(s), {size}, would be removed; "
            f"{len(plan.keep)} kept. Run `auditpipe gc --apply` to remove them."
        )
        return 0
    freed = cache_gc.apply(cache, plan)
    err.print(f"removed {len(plan.remove)} object(s), {freed / 1e6:.1f} MB; {len(plan.keep)} kept")
    return 0
