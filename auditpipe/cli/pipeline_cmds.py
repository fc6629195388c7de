"""``status``, ``dag``, ``metrics`` and ``diff``: the pipeline verbs that inspect.

``run`` lives in ``auditpipe.cli.run_cmd`` and the loaders shared by the pipeline
verbs in ``auditpipe.cli.pipeline_load``; both are re-exported here, and ``run`` is
imported first so the commands register in the same order as before.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

from rich.markup import escape

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.cli.pipeline_load import _load as _load
from auditpipe.cli.pipeline_load import _order as _order
from auditpipe.cli.pipeline_load import _planner as _planner
from auditpipe.cli.run_cmd import run as run  # re-exported; registers ``run`` first
from auditpipe.errors import ConfigError


@app.command
def status(stages: list[str] | None = None, /, *, json: bool = False) -> int:
    """Say, per stage, whether it is up to date and why not.

    Parameters
    ----------
    stages
        Only these stages (and what they depend on).
    json
        Print machine-readable output.
    """
    workspace, spec, dag = _load()
    order = _order(dag, stages)
    rows: list[dict[str, Any]] = []
    stale: set[str] = set()
    from auditpipe.cache import open_cache
    from auditpipe.pipeline.outputs import StageOutputs

    with _planner(workspace, spec) as (ledger, planner):
        outputs = StageOutputs(workspace.root, ledger, open_cache(workspace))
        for name in order:
            assessment = planner.assess(spec.stages[name])
            reasons = list(assessment.reasons)
            if any(
                outputs.restorable(spec.stages[name], ledger.get(run_id))
                for run_id in assessment.cached
            ):
                reasons.append("cached: `auditpipe run` or `auditpipe checkout` restores it")
            # A frozen stage never re-runs, so its upstream cannot make it stale.
            frozen = spec.stages[name].frozen and assessment.up_to_date
            stale_ups = [] if frozen else sorted(dag.upstream(name) & stale)
            if stale_ups:
                reasons.append(f"upstream {', '.join(stale_ups)} will re-run")
            up_to_date = assessment.up_to_date and not stale_ups
            if not up_to_date:
                stale.add(name)
            rows.append(
                {"stage": name, "upToDate": up_to_date, "run": assessment.run, "reasons": reasons}
            )
        from auditpipe.noop.record import record_verified

        record_verified(ledger, planner.assessed.values(), verifier=planner.trust)
    if json:
        print_json(rows)
        return 0
    if not rows:
        out.print("no stages yet: auditpipe.yaml has a commented example to start from")
    for row in rows:
        if row["upToDate"]:
            seen = f"run {row['run'][:12]}" if row["run"] else "; ".join(row["reasons"])
            out.print(f"{escape(row['stage'])}: up to date ({seen})")
        else:
            out.print(f"{escape(row['stage'])}: stale")
            for reason in row["reasons"]:
                out.print(f"    {escape(reason)}")
    return 0


@app.command
def dag(*, format: Literal["text", "mermaid", "dot", "json"] = "text") -> int:
    """Show the pipeline's stages and how they depend on each other.

    Parameters
    ----------
    format
        text, mermaid, dot or json.
    """
    _workspace, _spec, graph = _load()
    if format == "json":
        print_json(graph.to_json())
    else:
        render = {"text": graph.to_text, "mermaid": graph.to_mermaid, "dot": graph.to_dot}
        sys.stdout.write(render[format]().rstrip("\n") + "\n")
    return 0


@app.command
def metrics(*, json: bool = False) -> int:
    """The metrics of the latest successful run of each stage.

    Parameters
    ----------
    json
        Print machine-readable output.
    """
    from auditpipe.pipeline.diff import flatten

    workspace, spec, graph = _load()
    rows: dict[str, Any] = {}
    with _planner(workspace, spec) as (_ledger, planner):
        for name in graph.order():
            latest = planner.latest_run(name)
            if latest is not None and latest[1].metrics:
                rows[name] = {"run": latest[0].id, "metrics": latest[1].metrics}
    if json:
        print_json(rows)
        return 0
    for name, row in rows.items():
        out.print(f"{escape(name)} (run {row['run'][:12]})")
        for key, value in flatten(row["metrics"]).items():
            out.print(f"    {escape(key)}: {value}")
    if not rows:
        err.print("no metrics recorded yet")
    return 0


@app.command
def diff(a: str, b: str, /, *, json: bool = False) -> int:
    """Compare two runs (entry ids) or the runs recorded at two git revisions.

    Parameters
    ----------
    a
        An entry id (or unique prefix), or a git revision.
    b
        An entry id (or unique prefix), or a git revision.
    json
        Print machine-readable output.
    """
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.pipeline.diff import RunDiff, diff_runs

    diffs: list[RunDiff] = []
    resolved: list[tuple[str, Any]] = []
    with Ledger.open() as ledger:
        left, right = _side(ledger, a), _side(ledger, b)
        if isinstance(left, str) and isinstance(right, str):
            ea, eb = ledger.get(left), ledger.get(right)
            ra, rb = ea.signed.stage_run(), eb.signed.stage_run()
            diffs.append(diff_runs(ra, rb, ea.id, eb.id, ra.stage if ra else "-"))
        elif isinstance(left, bytes) and isinstance(right, bytes):
            from auditpipe.pipeline.revision import diff_revisions

            before, after, diffs = diff_revisions(ledger, left.decode(), right.decode())
            resolved = [(a, before), (b, after)]
        else:
            raise ConfigError(
                "compare two entries or two revisions, not one of each",
                hint="e.g. `auditpipe diff 3bfd126c 8b213360` or `auditpipe diff main~1 main`",
            )
    if json:
        print_json(
            [
                {
                    "stage": d.stage,
                    "before": d.before,
                    "after": d.after,
                    "changes": [c.__dict__ for c in d.changes],
                }
                for d in diffs
            ]
        )
        return 0
    for name, resolution in resolved:
        how = (
            "runs from its auditpipe.lock"
            if resolution.source == "auditpipe.lock"
            else "latest runs recorded at or before it with its params"
        )
        out.print(f"{escape(name)} = {resolution.commit[:12]}: {how}")
    for d in diffs:
        out.print(f"{escape(d.stage)}: {(d.before or '-')[:12]} -> {(d.after or '-')[:12]}")
        for c in d.changes:
            out.print(
                f"    {c.what} {escape(c.key)}: {escape(str(c.before))} -> {escape(str(c.after))}"
            )
        if not d.changes:
            out.print("    no differences")
        elif resolved and d.before is not None and d.before == d.after:
            out.print(
                f"    both revisions resolve to run {d.before[:12]}: no run was recorded "
                f"with {escape(b)}'s params (run the pipeline there to record one)"
            )
    if not diffs:
        out.print("no differences")
    return 0


def _side(ledger: Any, ref: str) -> str | bytes:
    """An entry id (str) when ``ref`` names one, else a commit id (bytes)."""
    from auditpipe.errors import EntryNotFound

    try:
        return str(ledger.resolve(ref))
    except EntryNotFound:
        pass
    from auditpipe.errors import RepositoryError
    from auditpipe.workspace import resolve_revision

    repo = ledger.workspace.open()
    try:
        return resolve_revision(repo, ref).encode()
    except RepositoryError as exc:
        raise ConfigError(
            f"{ref!r} is neither a ledger entry nor a git revision",
            hint="give an entry id from `auditpipe log` or a commit/branch/tag",
        ) from exc
    finally:
        repo.close()
