"""Statements, predicates, canonical bytes and DSSE: the signed manifest format.

The canonical-bytes rules load at once; the pydantic models (predicates,
statements) on first use, so a module that only needs ``canonical_bytes`` (the
stage key of a no-op ``status``) never pays for pydantic.
"""

from typing import TYPE_CHECKING, Any

from auditpipe.manifest.canonical import (
    IN_TOTO_PAYLOAD_TYPE,
    canonical_bytes,
    entry_id,
    is_canonical,
    pae,
)

if TYPE_CHECKING:
    from auditpipe.manifest.predicates import (
        APPROVAL_V1,
        CHECKPOINT_V1,
        PROMOTION_V1,
        STAGE_RUN_V1,
        Approval,
        Checkpoint,
        CodeState,
        Digest,
        Environment,
        FailedExpectation,
        Logs,
        Material,
        PipelineRef,
        Promotion,
        Runner,
        StageRun,
        Validation,
    )
    from auditpipe.manifest.statement import (
        SignedStatement,
        Statement,
        Subject,
        build_statement,
    )

_STATEMENT = ("SignedStatement", "Statement", "Subject", "build_statement")

__all__ = [
    "APPROVAL_V1",
    "CHECKPOINT_V1",
    "IN_TOTO_PAYLOAD_TYPE",
    "PROMOTION_V1",
    "STAGE_RUN_V1",
    "Approval",
    "Checkpoint",
    "CodeState",
    "Digest",
    "Environment",
    "FailedExpectation",
    "Logs",
    "Material",
    "PipelineRef",
    "Promotion",
    "Runner",
    "SignedStatement",
    "StageRun",
    "Statement",
    "Subject",
    "Validation",
    "build_statement",
    "canonical_bytes",
    "entry_id",
    "is_canonical",
    "pae",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'auditpipe.manifest' has no attribute {name!r}")
    # predicates first: it registers approval/v1
    from auditpipe.manifest import predicates, statement

    return getattr(statement if name in _STATEMENT else predicates, name)
