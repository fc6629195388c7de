"""``cache push`` and ``cache pull``: the remote output cache's verbs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cyclopts import App
from rich.markup import escape

from auditpipe.cli.app import app, err, out
from auditpipe.cli.pipeline_load import _load, _order, _planner

if TYPE_CHECKING:
    from auditpipe.cache import OutputCache
    from auditpipe.pipeline.remote_outputs import RemoteOutputs
    from auditpipe.trust.root import TrustRoot

cache_app = App(name="cache", help="Share signed outputs through a remote cache (s3://...).")
app.command(cache_app)


def remote_outputs(
    workspace: Any,
    spec: Any,
    cache: OutputCache,
    url: str | None,
    trust_ref: str | None = None,
    trust: TrustRoot | None = None,
) -> RemoteOutputs | None:
    """The remote caches configured for ``spec`` (``url`` replaces the default), or None;
    ``trust``: the trust root the command already read (else read here)."""
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.pipeline.remote_outputs import RemoteOutputs
    from auditpipe.signing.factory import verifier_for

    remotes = spec.remotes.overridden(url)
    if remotes.default is None and not remotes.named:
        return None
    for stage in spec.stages.values():  # an unknown `remote:` name fails before any work
        for _path, options in stage.out_options:
            remotes.url(options.remote)
    if trust is None:
        trust = open_trust_root(workspace, trust_ref, quiet=True)  # $AUDITPIPE_TRUST_REF, if set
    return RemoteOutputs(cache, remotes, verifier_for(trust))


def _required(
    workspace: Any, spec: Any, cache: OutputCache, url: str | None, trust: TrustRoot
) -> RemoteOutputs:
    from auditpipe.errors import ConfigError

    remote = remote_outputs(workspace, spec, cache, url, trust=trust)
    if remote is None:
        raise ConfigError(
            "no remote cache is configured",
            path=spec.path.name,
            hint="add `cache: {remote: s3://bucket/prefix}` to auditpipe.yaml, "
            "or pass --remote s3://bucket/prefix",
        )
    remote.check()  # unreachable, no bucket, access denied: exit 2 before any work
    return remote


@cache_app.command(name="push")
def push(stages: list[str] | None = None, /, *, remote: str | None = None) -> int:
    """Send the outputs of up-to-date stages (their signed run's products) to the
    remote cache. Objects are content-addressed and never overwritten; outputs
    with `push: false` or `cache: false` stay local.

    Parameters
    ----------
    stages
        Only these stages (and what they depend on).
    remote
        The remote cache URL (default: `cache: remote:` in auditpipe.yaml,
        else $AUDITPIPE_CACHE_REMOTE).
    """
    from auditpipe.cache import open_cache
    from auditpipe.cli.trust_cmds import open_trust_root

    workspace, spec, dag = _load()
    trust = open_trust_root(workspace, None, quiet=True)  # $AUDITPIPE_TRUST_REF, if set
    shared = _required(workspace, spec, open_cache(workspace), remote, trust)
    sent = already = 0
    with _planner(workspace, spec, trust) as (ledger, planner):
        for name in _order(dag, stages):
            found = planner.assess(spec.stages[name])
            if not found.up_to_date or found.run is None:
                err.print(f"{escape(name)}: not up to date; run it before pushing its outputs")
                continue
            for url, done in shared.push(spec.stages[name], ledger.get(found.run)).items():
                sent, already = sent + len(done.sent), already + len(done.already)
                for path in done.sent:
                    out.print(f"{escape(name)}: pushed {escape(path)} to {escape(url)}")
                for path in done.not_cached:
                    err.print(
                        f"[yellow]! {escape(name)}[/]: {escape(path)} is not in the local "
                        "cache (`auditpipe checkout` or re-run the stage), not pushed"
                    )
    err.print(f"pushed {sent} output(s); {already} already on the remote")
    return 0


@cache_app.command(name="pull")
def pull(
    stages: list[str] | None = None,
    /,
    *,
    remote: str | None = None,
    trust_ref: str | None = None,
    json: bool = False,
) -> int:
    """Fetch the outputs of stages whose signed run matches them from the remote
    cache, each object checked against the digest a trusted signed run recorded,
    and restore them into the working tree. Exit 1 when a stage cannot be
    restored (not on the remote, or the remote's bytes are not the signed ones).

    Parameters
    ----------
    stages
        Only these stages (and what they depend on).
    remote
        The remote cache URL (default: `cache: remote:` in auditpipe.yaml,
        else $AUDITPIPE_CACHE_REMOTE).
    trust_ref
        Read the trusted keys from this git revision (default: $AUDITPIPE_TRUST_REF,
        else the working tree): only runs that trust set vouches for are fetched.
    json
        Print machine-readable output.
    """
    from auditpipe.cache import open_cache
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.errors import RemoteCacheError
    from auditpipe.pipeline.outputs import StageOutputs

    workspace, spec, dag = _load()
    cache = open_cache(workspace)
    # One trust root for both choices: which runs count, and which runs' bytes are fetched.
    trust = open_trust_root(workspace, trust_ref, quiet=True)
    shared = _required(workspace, spec, cache, remote, trust)
    rows: list[dict[str, Any]] = []
    with _planner(workspace, spec, trust) as (ledger, planner):
        outputs = StageOutputs(workspace.root, ledger, cache, shared)
        for name in _order(dag, stages):
            stage = spec.stages[name]
            found = planner.assess(stage)
            row: dict[str, Any] = {"stage": name, "run": found.run, "notices": []}
            rows.append(row)
            if found.up_to_date:
                row["result"] = "up to date"
                continue
            row["result"], row["reasons"] = "not restorable", list(found.reasons)
            for entry in (ledger.get(i) for i in found.cached):
                if not outputs.restorable(stage, entry):
                    fetched = shared.fetch(stage, entry)
                    if fetched.notice:
                        row["notices"].append(fetched.notice)
                    if not fetched.ok:
                        if shared.unavailable:
                            raise RemoteCacheError(next(iter(shared.unavailable.values())))
                        continue
                row["notices"] += outputs.restore(stage, entry, found.outputs)
                row["result"], row["run"] = "restored", entry.id
                break
    from auditpipe.cli.cache_cmds import report_restores

    return report_restores(rows, json, "not restorable from the remote cache")
