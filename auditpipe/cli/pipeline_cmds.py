"""``run``, ``status``, ``dag`` and ``metrics``: the pipeline verbs."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Literal

from cyclopts import Parameter
from rich.markup import escape
from rich.table import Table

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.errors import ConfigError

if TYPE_CHECKING:
    from auditpipe.pipeline.executor import StageResult
    from auditpipe.pipeline.executors.interface import CommandExecutor


def _load() -> tuple[Any, Any, Any]:
    from auditpipe.pipeline.dag import build_dag
    from auditpipe.pipeline.spec import load_pipeline
    from auditpipe.workspace import Workspace

    workspace = Workspace.discover()
    spec = load_pipeline(workspace.root)
    return workspace, spec, build_dag(spec)


def _order(dag: Any, stages: list[str] | None) -> list[str]:
    """All stages, or the named ones (a template's base name selects all its
    expansions) plus everything they depend on; unknown names are an error."""
    return list(dag.select(stages)) if stages else list(dag.order())


@contextlib.contextmanager
def _planner(workspace: Any, spec: Any) -> Iterator[tuple[Any, Any]]:
    from auditpipe.fingerprint import StatCache
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.pipeline.planner import Planner
    from auditpipe.pipeline.spec import load_params

    params_doc = load_params(spec)
    with Ledger(workspace) as ledger, StatCache(StatCache.default_path(workspace.git_dir)) as cache:
        yield ledger, Planner(spec, ledger, params_doc, cache)


class _Console:
    """Prints stage output with a prefix (secret variables' values redacted, as in
    the kept logs: CI logs are kept too) and a summary table at the end; auditpipe's
    own slow work (loading GX, running gates) shows as progress on stderr."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        from auditpipe.cli.progress import Heartbeat

        self.secrets = secrets
        self.progress = Heartbeat()

    def working(self, stage: str, what: str | None) -> None:
        if what is None:
            self.progress.clear(stage)
        else:
            self.progress.set(stage, f"{stage}: {what}")

    def stage_started(self, stage: str, cmd: str) -> None:
        err.print(f"[bold]▶ {escape(stage)}[/]: {escape(cmd)}")

    def output(self, stage: str, stream: str, line: str) -> None:
        target = err if stream == "stderr" else out
        for value in self.secrets:
            line = line.replace(value, "[REDACTED]")
        target.print(f"[dim]{escape(stage)} |[/] {escape(line)}")

    def stage_finished(self, result: StageResult) -> None:
        if result.outcome in ("failed", "gate_failed"):
            err.print(f"[bold red]✗ {escape(result.stage)}[/]: {escape('; '.join(result.reasons))}")
        elif result.outcome == "ran":
            err.print(f"[green]✓ {escape(result.stage)}[/] recorded {result.entry}")
        elif result.outcome == "restored":
            err.print(
                f"[green]↺ {escape(result.stage)}[/]: stage is cached — restored outputs "
                f"of run {(result.entry or '')[:12]}"
            )

    def notice(self, stage: str, text: str) -> None:
        err.print(f"[yellow]! {escape(stage)}[/]: {escape(text)}")


TABLE_WIDTH = 120


def _summary(results: list[StageResult]) -> None:
    table = Table(title="auditpipe run", title_justify="left")
    for column in ("stage", "result", "duration", "entry / reason"):
        table.add_column(column, overflow="fold")  # long paths wrap in the cell, never cut
    for r in results:
        recorded = r.outcome in ("ran", "skipped", "restored", "failed", "gate_failed") and r.entry
        detail = r.entry[:12] if recorded and r.entry else ""
        if r.outcome not in ("ran", "skipped", "restored") and r.reasons:
            detail = f"{detail} {'; '.join(r.reasons)}".strip()
        duration = f"{r.duration:.2f}s" if r.outcome in ("ran", "failed", "gate_failed") else "-"
        table.add_row(escape(r.stage), r.outcome.replace("_", " "), duration, escape(detail))
    # Where nothing wraps for us (a CI log), a readable width rather than one long row.
    err.print(table, width=None if err.is_terminal else TABLE_WIDTH)
    counts = {
        k: sum(1 for r in results if r.outcome == k)
        for k in (
            *("ran", "skipped", "restored", "failed", "gate_failed", "not_run"),
            *("would_run", "would_restore"),
        )
    }
    err.print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v))


def _commands(kind: str, address: str | None) -> CommandExecutor:
    """The command executor ``kind`` (``ray`` imports Ray and connects here)."""
    if kind == "ray":
        from auditpipe.pipeline.executors.ray import RayExecutor

        cluster = RayExecutor(address)
        cluster.connect()
        return cluster
    from auditpipe.pipeline.executors.local import LocalExecutor

    return LocalExecutor()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command
def run(
    stages: list[str] | None = None,
    /,
    *,
    jobs: Annotated[int, Parameter(name=["-j", "--jobs"])] = 1,
    force: bool = False,
    dry_run: bool = False,
    keep_going: bool = False,
    key: str | None = None,
    passphrase_env: str | None = None,
    signer: Literal["local", "sigstore", "auto"] | None = None,
    identity_token: str | None = None,
    push: bool = False,
    remote: str = "origin",
    executor: Literal["local", "ray"] | None = None,
    address: str | None = None,
    allow_secret: list[str] | None = None,
) -> int:
    """Run the stages that are not up to date; sign every run into the ledger.

    Parameters
    ----------
    stages
        Only these stages (and what they depend on).
    jobs
        Run up to this many independent stages at once.
    force
        Run the selected stages even if they are up to date.
    dry_run
        Say what would run, run nothing.
    keep_going
        After a failure, finish the stages that do not depend on it.
    key
        Name of the signing key.
    passphrase_env
        Environment variable holding the key's passphrase.
    signer
        local (your key), sigstore (keyless, for CI) or auto (sigstore when an OIDC
        credential is available); default: `signer:` in auditpipe.yaml, else local.
    identity_token
        OIDC identity token for keyless signing (default: $AUDITPIPE_IDENTITY_TOKEN,
        else the CI's ambient credential).
    push
        Afterwards, push the ledger to the remote (failed runs are evidence too).
    remote
        The git remote --push sends to.
    executor
        Where commands run: local (subprocesses) or ray (tasks on a Ray cluster);
        default: `executor:` in auditpipe.yaml, else local.
    address
        The Ray cluster to use (default: $RAY_ADDRESS, else a new local Ray instance).
    allow_secret
        A key (param path, variable, `stages.NAME.cmd`) that looks like a secret but
        is not one (repeatable); adds to `secrets: allow:` in auditpipe.yaml.
    """
    from auditpipe.cache import open_cache
    from auditpipe.cli.export_cmds import live_lineage
    from auditpipe.pipeline.executor import Executor
    from auditpipe.pipeline.outputs import StageOutputs
    from auditpipe.pipeline.preflight import check_secrets, secret_values
    from auditpipe.pipeline.recording import PipelineRecorder
    from auditpipe.signing.factory import signer_for

    workspace, spec, dag = _load()
    order = _order(dag, stages)
    with _planner(workspace, spec) as (ledger, planner):
        # Before any command runs: a secret found after the run would leave it unrecorded.
        guard = check_secrets(spec, order, planner.params_doc, allow_secret or ())
        if not dry_run:
            from auditpipe.ledger.state import writer_lock

            with writer_lock(workspace.state_dir):  # an unwritable .git fails before any command
                pass
        signing = (
            None
            if dry_run
            else signer_for(
                workspace, key, passphrase_env, signer or spec.signer or "local", identity_token
            )
        )
        recorder = PipelineRecorder(
            spec,
            ledger,
            planner,
            signing,  # type: ignore[arg-type]
            state_dir=workspace.state_dir,
            guard=guard,
        )
        console = _Console(secret_values(spec, order, guard))
        lineage = None if dry_run else live_lineage(workspace, ledger)
        commands = _commands(executor or spec.executor or "local", address)
        runner = Executor(
            dag,
            dict(spec.stages),
            planner,
            recorder,
            console,
            root=workspace.root,
            jobs=jobs,
            force=force,
            keep_going=keep_going,
            dry_run=dry_run,
            state_dir=workspace.state_dir,
            outputs=StageOutputs(workspace.root, ledger, open_cache(workspace)),
            lineage=lineage,
            commands=commands,
        )
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            results = runner.run(order)
        finally:
            commands.close()
            console.progress.close()
            signal.signal(signal.SIGTERM, previous)
            if lineage is not None:
                lineage.close()
        recorded = {
            r.stage: r.entry
            for r in results
            if r.entry and r.outcome in ("ran", "skipped", "restored", "failed", "gate_failed")
        }
        if recorded and not dry_run:
            from auditpipe.lock.update import update_lock

            update_lock(ledger, signing, recorded)
    _summary(results)
    if all(r.outcome == "skipped" for r in results):
        err.print("every stage is up to date")
    elif all(r.outcome in ("skipped", "restored") for r in results):
        err.print("every stage is up to date (restored from the cache)")
    if push and not dry_run:
        from auditpipe.cli.sync_cmds import anchored_sync
        from auditpipe.cli.trust_cmds import open_trust_root
        from auditpipe.ledger.sync import push as push_ledger
        from auditpipe.signing.factory import verifier_for

        trust = open_trust_root(workspace, None, quiet=True)  # $AUDITPIPE_TRUST_REF, if set
        sent = anchored_sync(
            push_ledger, workspace, remote, None, signing, verifier_for(trust), trust, pull=False
        )
        err.print(f"pushed the ledger to {remote}: head {(sent.head or '-')[:12]}")
    bad = [r for r in results if r.outcome in ("failed", "gate_failed", "not_run")]
    return 1 if bad else 0


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
