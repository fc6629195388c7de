"""``run``: the pipeline verb that runs stages, with its console observer and summary table."""

from __future__ import annotations

import signal
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Literal

from cyclopts import Parameter
from rich.markup import escape

from auditpipe.cli.app import app, err, out
from auditpipe.cli.pipeline_load import _load, _order, _planner
from auditpipe.cli.run_summary import summary as _summary

if TYPE_CHECKING:
    from auditpipe.pipeline.executor import StageResult
    from auditpipe.pipeline.executors.interface import CommandExecutor


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


def _commands(kind: str, address: str | None) -> CommandExecutor:
    """The command executor ``kind`` (``ray`` imports Ray and connects here)."""
    if kind == "ray":
        from auditpipe.pipeline.executors.ray import RayExecutor

        cluster = RayExecutor(address)
        cluster.connect()
        return cluster
    from auditpipe.pipeline.executors.local import LocalExecutor

    return LocalExecutor()


def _import_ray_meanwhile() -> None:
    """Import Ray (~0.6 s) on a thread while the driver loads the pipeline and ledger;
    ``connect`` then finds it imported (or reports the ImportError itself)."""
    import contextlib
    import importlib
    import threading

    def load() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module("ray")

    threading.Thread(target=load, name="import-ray", daemon=True).start()


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
    cache_remote: str | None = None,
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
    cache_remote
        The remote output cache (s3://bucket/prefix) to restore signed outputs from
        when the local cache lacks them (default: `cache: remote:` in auditpipe.yaml,
        else $AUDITPIPE_CACHE_REMOTE).
    """
    if executor == "ray":
        _import_ray_meanwhile()
    from auditpipe.cache import open_cache
    from auditpipe.cli.export_cmds import live_lineage
    from auditpipe.cli.remote_cmds import remote_outputs
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.pipeline.executor import Executor
    from auditpipe.pipeline.outputs import StageOutputs
    from auditpipe.pipeline.preflight import check_secrets, secret_values
    from auditpipe.pipeline.recording import PipelineRecorder
    from auditpipe.signing.factory import signer_for

    workspace, spec, dag = _load()
    if executor is None and spec.executor == "ray":  # known only now; still before the ledger
        _import_ray_meanwhile()
    order = _order(dag, stages)
    # Read once: which runs count (skip, restore), the remote cache's, --push's.
    trust = open_trust_root(workspace, None, quiet=True)  # $AUDITPIPE_TRUST_REF, if set
    with _planner(workspace, spec, trust) as (ledger, planner):
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
        cache = open_cache(workspace)
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
            outputs=StageOutputs(
                workspace.root,
                ledger,
                cache,
                remote_outputs(workspace, spec, cache, cache_remote, trust=trust),
            ),
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
        if not dry_run:
            from auditpipe.noop.record import record_verified

            skipped = {r.stage: r.entry for r in results if r.outcome == "skipped"}
            record_verified(
                ledger,
                [a for a in planner.assessed.values() if skipped.get(a.stage) == a.run],
                lock_written=bool(recorded),
                verifier=planner.trust,
            )
    _summary(results)
    if push and not dry_run:
        from auditpipe.cli.sync_cmds import anchored_sync
        from auditpipe.ledger.sync import push as push_ledger
        from auditpipe.signing.factory import verifier_for

        sent = anchored_sync(
            push_ledger, workspace, remote, None, signing, verifier_for(trust), trust, pull=False
        )
        err.print(f"pushed the ledger to {remote}: head {(sent.head or '-')[:12]}")
    bad = [r for r in results if r.outcome in ("failed", "gate_failed", "not_run")]
    return 1 if bad else 0
