"""Predicate models: stage-run/v1, promotion/v1, checkpoint/v1 and reproduction/v1
(approval/v1: approval.py).

Field names on the wire are camelCase (in-toto convention); Python attributes
are snake_case. Models are frozen and reject unknown fields, so a statement that
parses is exactly one of these shapes. The JSON Schemas shipped in
``auditpipe/manifest/schemas/`` are generated from these models
(``python -m auditpipe.manifest.schema``) and tested against every manifest the
test-suite produces.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

STAGE_RUN_V1 = "https://auditpipe.dev/stage-run/v1"
PROMOTION_V1 = "https://auditpipe.dev/promotion/v1"
CHECKPOINT_V1 = "https://auditpipe.dev/checkpoint/v1"
REPRODUCTION_V1 = "https://auditpipe.dev/reproduction/v1"

SHA256_HEX = r"^[0-9a-f]{64}$"
UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

RunStatus = Literal["succeeded", "failed", "gate_failed"]


class WireModel(BaseModel):
    """Base for everything that is signed: frozen, strict about unknown fields."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )


class Digest(WireModel):
    sha256: str = Field(pattern=SHA256_HEX)


class PipelineRef(WireModel):
    path: str
    sha256: str = Field(pattern=SHA256_HEX)


class CodeState(WireModel):
    """The workspace's code when the stage ran."""

    commit: str | None = None
    tree: str | None = None
    dirty: bool
    deps: dict[str, str] = Field(default_factory=dict)
    """sha256 of each code dependency (repo-relative path -> hex digest)."""
    dirty_files: list[str] | None = None
    """The git-tracked files (code deps, other deps, params file, pipeline file)
    that differed from ``commit`` when the stage ran; absent when none did."""


class Material(WireModel):
    """One input or output, as a resource descriptor with its fingerprint."""

    name: str
    digest: Digest
    size: int | None = None
    kind: Literal["file", "directory", "symlink"] = "file"
    files: int | None = None
    table: dict[str, Any] | None = None
    produced_by: str | None = Field(default=None, pattern=SHA256_HEX)
    etag: str | None = None
    """An object-store object's ETag when its digest was read (S3; absent for files)."""
    version_id: str | None = None
    """The object's version id on a versioned bucket (S3; absent otherwise)."""


class FailedExpectation(WireModel):
    type: str
    column: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    observed: Any = None


class Validation(WireModel):
    suite: str
    suite_path: str
    suite_digest: Digest
    data: str
    data_digest: Digest
    success: bool
    statistics: dict[str, Any] = Field(default_factory=dict)
    failed_expectations: list[FailedExpectation] = Field(default_factory=list)


class Environment(WireModel):
    python: str
    platform: str
    packages_digest: str = Field(pattern=SHA256_HEX)
    packages: list[str] = Field(default_factory=list)
    variables: dict[str, str] = Field(default_factory=dict)
    """Public variables the stage lists under ``env:``, by value; nothing else."""
    secret_variables: dict[str, Literal["set", "not set"]] = Field(default_factory=dict)
    """Secret variables the stage lists: whether each was set, never a value or digest."""


class Runner(WireModel):
    user: str
    host: str
    ci_run_url: str | None = None


class Logs(WireModel):
    stdout: Digest | None = None
    stderr: Digest | None = None


class CardRef(WireModel):
    """The model card (``artifacts:`` entry) of an output, as it was when the run ran."""

    name: str
    path: str
    sha256: str = Field(pattern=SHA256_HEX)


class WorkerEnvironment(WireModel):
    """The environment a remote worker saw (as it reported it; the driver's is ``environment``)."""

    python: str
    platform: str
    packages_digest: str = Field(pattern=SHA256_HEX)
    runtime_env: str | None = None


class ExecutorInfo(WireModel):
    """Where the command ran, when not as a local subprocess of the signer."""

    kind: str = Field(min_length=1)
    node_id: str | None = None
    address: str | None = None
    version: str | None = None
    worker: WorkerEnvironment | None = None


class StageRun(WireModel):
    """Predicate of ``https://auditpipe.dev/stage-run/v1``: one executed stage."""

    stage: str = Field(min_length=1)
    status: RunStatus
    command: str | None = None
    pipeline: PipelineRef | None = None
    stage_key: str | None = Field(default=None, pattern=SHA256_HEX)
    code: CodeState
    materials: list[Material] = Field(default_factory=list)
    products: list[Material] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    validations: list[Validation] = Field(default_factory=list)
    environment: Environment
    logs: Logs | None = None
    started_at: str
    finished_at: str
    exit_code: int | None = None
    runner: Runner
    cards: list[CardRef] | None = None
    """Model cards of the outputs declared under ``artifacts:`` (not in the stage key)."""
    openlineage_run_id: str | None = Field(default=None, pattern=UUID_TEXT)
    """The OpenLineage run id (UUID v7) made when the stage started; lineage
    events sent live and exported later carry this same id."""
    executor: ExecutorInfo | None = None

    # Secrets are refused before a run is built (auditpipe.secrets), not here: a
    # heuristic that changes between versions must not turn verified history invalid.


class Promotion(WireModel):
    """Predicate of ``promotion/v1``: an artifact digest moved to a stage."""

    artifact: str
    digest: Digest
    stage: str = Field(min_length=1)
    policy: PipelineRef
    decision: Literal["allow"]
    reasons: list[str] = Field(default_factory=list)
    runs: list[str] = Field(default_factory=list)
    promoted_at: str
    runner: Runner
    name: str | None = None
    """The artifact's name in its model card (``artifacts:``), when it has one."""


class Checkpoint(WireModel):
    """Predicate of ``checkpoint/v1``: a signed commitment to a ledger head."""

    head: str = Field(pattern=r"^[0-9a-f]{40}$")
    entries: int = Field(ge=0)
    entries_digest: str = Field(pattern=SHA256_HEX)
    """sha256 over the sorted entry ids present at ``head``, one per line."""
    created_at: str


class ProductCheck(WireModel):
    """One product of the reproduced run: its signed digest and the new one."""

    name: str
    recorded: Digest
    reproduced: Digest | None = None
    """``None`` when the reproduction did not write it."""
    same: bool


class MetricDelta(WireModel):
    recorded: Any = None
    reproduced: Any = None


class Reproduction(WireModel):
    """Predicate of ``reproduction/v1``: a signed stage run performed again.

    The statement's one subject is the reproduced entry (its id is the sha256
    of that statement), so reproductions are found through the subject index.
    """

    run: str = Field(pattern=SHA256_HEX)
    stage: str = Field(min_length=1)
    command: str
    commit: str
    matches: bool
    """Every product has the digest the run signed."""
    products: list[ProductCheck] = Field(default_factory=list)
    metrics: dict[str, MetricDelta] = Field(default_factory=dict)
    environment: Environment
    environment_differences: list[str] = Field(default_factory=list)
    started_at: str
    finished_at: str
    exit_code: int | None = None
    runner: Runner


from auditpipe.manifest.approval import APPROVAL_V1 as APPROVAL_V1  # noqa: E402  (uses WireModel)
from auditpipe.manifest.approval import Approval as Approval  # noqa: E402

PREDICATES: dict[str, type[WireModel]] = {
    STAGE_RUN_V1: StageRun,
    PROMOTION_V1: Promotion,
    CHECKPOINT_V1: Checkpoint,
    REPRODUCTION_V1: Reproduction,
    APPROVAL_V1: Approval,
}

KIND_OF: dict[str, str] = {
    STAGE_RUN_V1: "stage-run",
    PROMOTION_V1: "promotion",
    CHECKPOINT_V1: "checkpoint",
    REPRODUCTION_V1: "reproduction",
    APPROVAL_V1: "approval",
}
