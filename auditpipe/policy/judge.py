"""Judge artifacts: walk each one's lineage and decide it under a policy.

Shared by ``gate``, ``promote`` and ``report``: the artifact's digest as it is
in the working tree, its lineage walked with the policy's verifier (built from
the trust root, never from the working tree's keys when a trust ref is given), and (with
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
from auditpipe.policy.load import LoadedPolicy
from auditpipe.policy.scope import default_artifacts
from auditpipe.policy.staleness import TreeState
from auditpipe.policy.trust import policy_verifier
from auditpipe.provenance.current import current_digest
from auditpipe.provenance.lineage import Lineage, walk
from auditpipe.trust.root import TrustRoot
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
    loaded: LoadedPolicy,
    trust: TrustRoot,
    artifacts: list[str] | None,
    base: str | None = None,
) -> list[tuple[Lineage, Decision]]:
    """The lineage of each artifact and the policy's decision on it, trusting ``trust``.

    ``artifacts`` defaults to what the pipeline declares that the policy's
    ``artifacts`` globs match (see :mod:`auditpipe.policy.scope`).
    """
    workspace = ledger.workspace
    paths = artifacts or default_artifacts(workspace.root, loaded.policy.artifacts)
    if not paths:
        raise ConfigError(
            "no artifacts to judge",
            path=str(loaded.path),
            hint="name them on the command line, or declare them in auditpipe.yaml "
            "(`artifacts:`, or outputs of its final stages) matching the policy's "
            "`artifacts:` globs",
        )
    verifier = policy_verifier(trust, loaded.policy)
    tree = TreeState(workspace.root)
    seen = None
    if any(rule.witnessed for rule in loaded.policy.rules):
        from auditpipe.lock.files import read_lock
        from auditpipe.lock.witness import witnesses

        # Witness keys come from the trust source (policies/keys/ or people-keys/).
        seen = witnesses(ledger, read_lock(workspace), trust.approval_keys())
    wants_approvals = any(r.approvals for r in loaded.policy.rules)
    spec = project_cards(workspace.root) if wants_approvals else None
    judged = []
    for path in paths:
        rel, digest = artifact_digest(workspace, path)
        lineage = walk(ledger, verifier, rel, digest, root=workspace.root)
        baseline = None
        if base:
            base_digest = digest_at(workspace, base, rel) or locked_digest_at(ledger, base, rel)
            if base_digest:
                baseline = walk(
                    ledger, verifier, rel, base_digest, root=workspace.root, check_sources=False
                )
        approvals = (
            approval_context(ledger, trust, loaded.sha256, card_for(spec, rel))
            if wants_approvals
            else None
        )
        decision = decide(
            loaded,
            lineage,
            tree,
            baseline=baseline,
            base_ref=base,
            witnesses=seen,
            approvals=approvals,
        )
        judged.append((lineage, decision))
    return judged


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


def locked_digest_at(ledger: Ledger, ref: str, rel: str) -> str | None:
    """The artifact's digest as the run named by ``auditpipe.lock`` at ``ref`` signed
    it: the baseline when artifacts are not committed (gitignored, in a cache).

    Each entry id it names is checked on the ledger to be a successful run
    that signed ``rel``.
    """
    from auditpipe.errors import Error
    from auditpipe.lock.files import LOCK_FILE, lock_at_revision, stages_in

    data = lock_at_revision(ledger.workspace, ref)
    if data is None:
        return None
    ids = set(stages_in(data, f"{ref}:{LOCK_FILE}").values())
    for entry_id in sorted(ids):
        try:
            entry = ledger.get(entry_id)
        except Error:
            continue
        run = entry.signed.stage_run()
        if run is None or run.status != "succeeded":
            continue
        for subject in entry.signed.statement.subject:
            if subject.name == rel:
                return subject.sha256
    return None
