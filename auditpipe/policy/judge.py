"""Judge artifacts: walk each one's lineage and decide it under a policy.

Shared by ``gate``, ``promote`` and ``report``: the artifact's digest as it is
in the working tree, its lineage walked with the policy's verifier, and (with
a base revision) the lineage of the artifact's bytes at that revision, for
no-regression rules.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from auditpipe.approvals.assess import approval_context
from auditpipe.errors import ConfigError
from auditpipe.ledger.ledger import Ledger
from auditpipe.pipeline.artifacts import card_for, project_cards
from auditpipe.policy.engine import Decision, decide
from auditpipe.policy.load import LoadedPolicy, load_policy
from auditpipe.policy.staleness import TreeState
from auditpipe.policy.trust import policy_verifier
from auditpipe.provenance.lineage import Lineage, current_digest, walk
from auditpipe.workspace import Workspace, resolve_revision


def artifact_digest(workspace: Workspace, path: str) -> tuple[str, str]:
    """(repo-relative path, sha256 now) of an artifact in the working tree."""
    rel = workspace.relative(Path(os.path.abspath(path)))
    digest = current_digest(workspace.root, rel)
    if digest is None:
        raise ConfigError(
            f"artifact not found: {rel}",
            path=rel,
            hint="give the path of a file in the working tree",
        )
    return rel, digest


def judge(
    ledger: Ledger,
    policy: Path | LoadedPolicy,
    artifacts: list[str] | None,
    base: str | None = None,
) -> list[tuple[Lineage, Decision]]:
    """The lineage of each artifact and the policy's decision on it.

    ``artifacts`` defaults to the files the policy's ``artifacts`` globs match.
    """
    loaded = policy if isinstance(policy, LoadedPolicy) else load_policy(policy)
    workspace = ledger.workspace
    paths = artifacts or governed(workspace.root, loaded.policy.artifacts)
    if not paths:
        raise ConfigError(
            "no artifacts to judge",
            path=str(loaded.path),
            hint="name them on the command line or list globs under `artifacts:`",
        )
    verifier = policy_verifier(workspace, loaded.policy)
    tree = TreeState(workspace.root)
    wants_approvals = any(r.approvals for r in loaded.policy.rules)
    spec = project_cards(workspace.root) if wants_approvals else None
    judged = []
    for path in paths:
        rel, digest = artifact_digest(workspace, path)
        lineage = walk(ledger, verifier, rel, digest, root=workspace.root)
        baseline = None
        if base:
            base_digest = digest_at(workspace, base, rel)
            if base_digest:
                baseline = walk(
                    ledger, verifier, rel, base_digest, root=workspace.root, check_sources=False
                )
        approvals = (
            approval_context(ledger, loaded.sha256, card_for(spec, rel))
            if wants_approvals
            else None
        )
        decision = decide(
            loaded, lineage, tree, baseline=baseline, base_ref=base, approvals=approvals
        )
        judged.append((lineage, decision))
    return judged


def governed(root: Path, globs: list[str]) -> list[str]:
    """Files in the working tree that a policy's ``artifacts`` globs match."""
    found: set[str] = set()
    for pattern in globs:
        found.update(p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def digest_at(workspace: Workspace, ref: str, rel: str) -> str | None:
    """sha256 of the artifact's bytes at a git revision (None if absent there)."""
    from dulwich.object_store import tree_lookup_path
    from dulwich.objects import Blob

    repo = workspace.open()
    try:
        commit = repo[resolve_revision(repo, ref).encode()]
        try:
            _mode, sha = tree_lookup_path(
                repo.object_store.__getitem__,
                commit.tree,  # type: ignore[attr-defined]
                rel.encode(),
            )
        except KeyError:
            return None
        blob = repo[sha]
        return hashlib.sha256(blob.as_raw_string()).hexdigest() if isinstance(blob, Blob) else None
    finally:
        repo.close()
