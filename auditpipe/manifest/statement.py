"""in-toto Statement v1, and the statement-as-signed-bytes.

``Statement`` is the model; ``SignedStatement`` is what the ledger stores and
verifies: the exact canonical bytes plus the model parsed from them. Nothing is
ever re-serialized between signing and storing, and verification reads the
stored bytes (the sigstore-python habit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, ValidationError

from auditpipe.errors import ManifestError
from auditpipe.manifest.canonical import canonical_bytes, entry_id
from auditpipe.manifest.predicates import (
    KIND_OF,
    PREDICATES,
    STAGE_RUN_V1,
    Checkpoint,
    Promotion,
    StageRun,
    WireModel,
)

STATEMENT_V1 = "https://in-toto.io/Statement/v1"


class Subject(WireModel):
    """An artifact the statement is about: repo-relative path and sha256."""

    name: str = Field(min_length=1)
    digest: dict[str, str]

    @property
    def sha256(self) -> str:
        return self.digest.get("sha256", "")


class Statement(WireModel):
    """in-toto Statement v1 with an auditpipe predicate."""

    type_: Literal["https://in-toto.io/Statement/v1"] = Field(
        default="https://in-toto.io/Statement/v1", alias="_type"
    )
    subject: list[Subject]
    predicate_type: str
    predicate: dict[str, Any]


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "statement"
    return f"{where}: {first['msg']}"


def build_statement(subjects: list[Subject], predicate: WireModel) -> SignedStatement:
    """Make the canonical bytes for a new statement, ready to be signed."""
    predicate_type = next((t for t, cls in PREDICATES.items() if isinstance(predicate, cls)), None)
    if predicate_type is None:
        raise ManifestError(f"unknown predicate model {type(predicate).__name__}")
    body = {
        "_type": STATEMENT_V1,
        "subject": [s.model_dump(mode="json", by_alias=True) for s in subjects],
        "predicateType": predicate_type,
        "predicate": predicate.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return SignedStatement.parse(canonical_bytes(body))


@dataclass(frozen=True)
class SignedStatement:
    """A statement's canonical bytes and the model parsed from them."""

    raw: bytes
    statement: Statement

    @classmethod
    def parse(cls, raw: bytes, *, require_canonical: bool = True) -> SignedStatement:
        """Validate ``raw`` as an auditpipe statement; keep the bytes untouched."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError(f"statement is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ManifestError("statement is not a JSON object")
        try:
            statement = Statement.model_validate(data)
        except ValidationError as exc:
            raise ManifestError(f"not an in-toto Statement v1: {_describe(exc)}") from exc
        model = PREDICATES.get(statement.predicate_type)
        if model is None:
            raise ManifestError(f"unknown predicateType {statement.predicate_type!r}")
        try:
            model.model_validate(statement.predicate)
        except ValidationError as exc:
            raise ManifestError(f"invalid predicate: {_describe(exc)}") from exc
        if require_canonical and canonical_bytes(data) != raw:
            raise ManifestError("statement bytes are not RFC 8785 canonical JSON")
        return cls(raw=raw, statement=statement)

    @property
    def id(self) -> str:
        return entry_id(self.raw)

    @property
    def kind(self) -> str:
        return KIND_OF.get(self.statement.predicate_type, "unknown")

    @cached_property
    def predicate(self) -> WireModel:
        return PREDICATES[self.statement.predicate_type].model_validate(self.statement.predicate)

    def stage_run(self) -> StageRun | None:
        if self.statement.predicate_type != STAGE_RUN_V1:
            return None
        assert isinstance(self.predicate, StageRun)
        return self.predicate

    def promotion(self) -> Promotion | None:
        return self.predicate if isinstance(self.predicate, Promotion) else None

    def checkpoint(self) -> Checkpoint | None:
        return self.predicate if isinstance(self.predicate, Checkpoint) else None

    @property
    def stage(self) -> str | None:
        """The stage a stage-run ran, or the stage a promotion targets."""
        stage = self.statement.predicate.get("stage")
        return stage if isinstance(stage, str) else None
