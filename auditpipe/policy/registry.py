"""Promotions: signed ``promotion/v1`` entries, and the registry read from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import Digest, PipelineRef, Promotion
from auditpipe.manifest.statement import Subject, build_statement
from auditpipe.pipeline import facts
from auditpipe.pipeline.artifacts import card_for, project_cards
from auditpipe.pipeline.recorder import sign_and_append
from auditpipe.policy.engine import Decision
from auditpipe.signing.factory import signer_for
from auditpipe.signing.identities import claimed_signer


def record_promotion(
    decision: Decision,
    stage: str,
    policy_path: Path,
    policy_sha256: str,
    key: str | None,
    passphrase_env: str | None,
) -> str:
    """Sign and append the promotion an ``allow`` decision permits.

    ``policy_sha256`` is the digest of the policy bytes that decided (the trust
    ref's, when one was used), not of the file now in the working tree.
    """
    assert decision.allow
    with Ledger.open() as ledger:
        signer = signer_for(ledger.workspace, key, passphrase_env)
        rel = ledger.workspace.relative(policy_path.resolve())
        card = card_for(project_cards(ledger.workspace.root), decision.artifact)
        predicate = Promotion(
            artifact=decision.artifact,
            name=card.name if card else None,
            digest=Digest(sha256=decision.sha256),
            stage=stage,
            policy=PipelineRef(path=rel, sha256=policy_sha256),
            decision="allow",
            reasons=[f"{r.rule}: {r.detail}" for r in decision.ordered()],
            runs=[],
            promoted_at=facts.now_rfc3339(),
            runner=facts.runner(),
        )
        subject = Subject(name=decision.artifact, digest={"sha256": decision.sha256})
        return sign_and_append(ledger, signer, build_statement([subject], predicate))


def promotions() -> list[dict[str, Any]]:
    """Every promotion on the ledger, oldest first."""
    from auditpipe.people import people_from_worktree

    rows = []
    with Ledger.open() as ledger:
        people = people_from_worktree(ledger.workspace.root)
        for entry_id in ledger.ids_for_kind("promotion"):
            entry = ledger.get(entry_id)
            promotion = entry.signed.promotion()
            if promotion is None:
                continue
            rows.append(
                {
                    "id": entry.id,
                    "artifact": promotion.artifact,
                    "sha256": promotion.digest.sha256,
                    "stage": promotion.stage,
                    "policy": promotion.policy.path,
                    "time": promotion.promoted_at,
                    "by": f"{promotion.runner.user}@{promotion.runner.host}",
                    "signer": claimed_signer(entry.bundle).describe(),
                    "person": (
                        person.describe()
                        if (person := people.for_signer(claimed_signer(entry.bundle)))
                        else None
                    ),
                    "name": promotion.name,
                }
            )
    return sorted(rows, key=lambda r: r["time"])
