"""Predicate ``approval/v1``: a person's sign-off on one artifact, or its withdrawal.

An approval binds a role, a comment and a ticket to everything the approver
looked at: the artifact's sha256 (also the statement's subject), the entry ids
of its lineage, the model card's digest and the policy's digest. If any of
them changes afterwards the approval no longer counts. A revocation is an
``approval/v1`` with ``revokes`` set to the withdrawn entry's id; it counts
only when signed by the same person.
"""

from __future__ import annotations

from pydantic import Field

from auditpipe.manifest.predicates import SHA256_HEX, Digest, PipelineRef, Runner, WireModel

APPROVAL_V1 = "https://auditpipe.dev/approval/v1"


class Approval(WireModel):
    """Predicate of ``https://auditpipe.dev/approval/v1``."""

    artifact: str = Field(min_length=1)
    """Repo-relative path of the approved artifact."""
    name: str | None = None
    """The artifact's name in the model card (``artifacts:`` of auditpipe.yaml)."""
    digest: Digest
    role: str = Field(min_length=1)
    lineage: list[str] = Field(default_factory=list)
    """Sorted entry ids of the runs in the artifact's lineage when it was approved."""
    card: Digest | None = None
    policy: PipelineRef
    comment: str | None = None
    ticket: str | None = None
    revokes: str | None = Field(default=None, pattern=SHA256_HEX)
    approved_at: str
    runner: Runner
