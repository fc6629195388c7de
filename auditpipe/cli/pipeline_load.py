"""Loading what the pipeline verbs work on: the workspace, its pipeline spec and
DAG, the stage order to act on, and a planner over the ledger."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


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
def _planner(workspace: Any, spec: Any, trust: Any = None) -> Iterator[tuple[Any, Any]]:
    """The ledger and a planner that counts the runs ``trust`` (a ``TrustRoot``;
    default: ``$AUDITPIPE_TRUST_REF``, else the working tree) vouches for."""
    from auditpipe.fingerprint import StatCache
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.pipeline.planner import Planner
    from auditpipe.pipeline.spec import load_params
    from auditpipe.pipeline.trusted import RunTrust

    params_doc = load_params(spec)
    if trust is None:
        from auditpipe.cli.trust_cmds import open_trust_root

        trust = open_trust_root(workspace, None, quiet=True)
    runs = RunTrust.of(trust)
    with Ledger(workspace) as ledger, StatCache(StatCache.default_path(workspace.git_dir)) as cache:
        yield ledger, Planner(spec, ledger, params_doc, cache, trust=runs)
