"""Statements, predicates, canonical bytes and DSSE: the signed manifest format."""

from auditpipe.manifest.canonical import (
    IN_TOTO_PAYLOAD_TYPE,
    canonical_bytes,
    entry_id,
    is_canonical,
    pae,
)
from auditpipe.manifest.predicates import (
    CHECKPOINT_V1,
    PROMOTION_V1,
    STAGE_RUN_V1,
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
from auditpipe.manifest.statement import SignedStatement, Statement, Subject, build_statement

__all__ = [
    "CHECKPOINT_V1",
    "IN_TOTO_PAYLOAD_TYPE",
    "PROMOTION_V1",
    "STAGE_RUN_V1",
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
