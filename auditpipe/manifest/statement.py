"""in-toto Statement v1, and the statement-as-signed-bytes.

``Statement`` is the model; ``SignedStatement`` is what the ledger stores and
verifies: the exact canonical bytes plus the model parsed from them. Nothing is
ever re-serialized between signing and storing, and verification reads the
stored bytes (the sigstore-python habit).
"""

from __future__ import annotations

import json
import math
import re
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
    Approval,
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
    return describe_validation(exc, "statement")


def describe_validation(exc: ValidationError, default: str = "value") -> str:
    """The first problem in plain words: ``field: message``, without pydantic's
    ``Value error,`` prefix; our own validators' messages name the field already."""
    first = exc.errors()[0]
    if first["type"] == "value_error":
        return str(first["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in first["loc"]) or default
    return f"{where}: {first['msg']}"


def build_statement(subjects: list[Subject], predicate: WireModel) -> SignedStatement:
    """Make the canonical bytes for a new statement, ready to be signed."""
    predicate_type = next((t for t, cls in PREDICATES.items() if isinstance(predicate, cls)), None)
    if predicate_type is None:
        raise ManifestError(f"unknown predicate model {type(predicate).__name__}")
    _reject_non_finite(predicate.model_dump(by_alias=True), "predicate")
    body = {
        "_type": STATEMENT_V1,
        "subject": [s.model_dump(mode="json", by_alias=True) for s in subjects],
        "predicateType": predicate_type,
        "predicate": predicate.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return SignedStatement.parse(canonical_bytes(body))


def _reject_non_finite(value: Any, where: str) -> None:
    """NaN and infinity have no JSON form; refuse them rather than sign a null."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ManifestError(
            f"{where} is a non-finite number ({value!r}), which JSON cannot represent",
            hint='record a finite number, or a string such as "NaN" if you mean it',
        )
    if isinstance(value, dict):
        for key, inner in value.items():
            _reject_non_finite(inner, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            _reject_non_finite(inner, f"{where}[{index}]")


def load_json(raw: bytes) -> Any:
    """Parse JSON as I-JSON readers do: integers beyond ±(2^53-1) are numbers (floats).

    RFC 8785 writes a float such as 1e18 with integer digits; reading it back
    as a float keeps such values round-tripping. A duplicate object key is an
    error (I-JSON forbids them; parsers disagree on which copy wins).
    """
    try:
        return json.loads(raw, parse_int=_parse_int, object_pairs_hook=_unique_keys)
    except DuplicateKey as exc:
        raise ManifestError(f"duplicate JSON key {exc.args[0]!r}") from None
    except RecursionError as exc:
        raise ManifestError("statement JSON is nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"statement is not valid JSON: {exc}") from exc


def load_canonical(raw: bytes) -> tuple[Any, bool]:
    """Parse like ``load_json``; also say whether ``raw`` is exactly its RFC 8785 form.

    Fast path: for ASCII text, RFC 8785 output equals ``json.dumps`` with sorted
    keys and compact separators, except for floats Python and ECMAScript print
    differently (integral ``5.0``, exponents ``1e-05``/``1e+16``), which send the
    text to the slow path. Keys are then ASCII, so code-point order is UTF-16
    order; escapes and integers agree. A duplicate key cannot survive the byte
    comparison (the re-serialization holds each key once), so the slower
    duplicate-rejecting parse runs only when the fast path does not settle it,
    and the RFC 8785 serializer itself decides everything else.
    """
    if raw.isascii() and not _PYTHON_ONLY_FLOAT.search(raw):
        try:
            data = _DECODER.decode(raw.decode("ascii"))
            if _ENCODER.encode(data).encode("ascii") == raw:
                return data, True
        except (ValueError, RecursionError, UnicodeError):
            pass
    data = load_json(raw)
    try:
        return data, canonical_bytes(data) == raw
    except ManifestError:
        return data, False


# Where Python's float repr and ECMAScript's Number-to-string differ: integral
# floats ("5.0", "-0.0") and exponent forms. A string holding such text only
# costs the slow path.
_PYTHON_ONLY_FLOAT = re.compile(rb"[:,\[]-?[0-9]+(?:\.[0-9]+)?[eE]|[:,\[]-?[0-9]+\.0[,\]}]")


class DuplicateKey(ValueError):
    """An object had the same key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


def _parse_int(text: str) -> int | float:
    value = int(text)
    return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else float(value)


MAX_SAFE_INT = 2**53 - 1
_DECODER = json.JSONDecoder(parse_int=_parse_int)
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


@dataclass(frozen=True)
class SignedStatement:
    """A statement's canonical bytes and the model parsed from them."""

    raw: bytes
    statement: Statement

    @classmethod
    def parse(cls, raw: bytes, *, require_canonical: bool = True) -> SignedStatement:
        """Validate ``raw`` as an auditpipe statement; keep the bytes untouched."""
        data, canonical = load_canonical(raw) if require_canonical else (load_json(raw), True)
        if not isinstance(data, dict):
            raise ManifestError("statement is not a JSON object")
        try:
            statement = Statement.model_validate(data, strict=True)
        except ValidationError as exc:
            raise ManifestError(f"not an in-toto Statement v1: {_describe(exc)}") from exc
        model = PREDICATES.get(statement.predicate_type)
        if model is None:
            raise ManifestError(f"unknown predicateType {statement.predicate_type!r}")
        try:
            model.model_validate(statement.predicate, strict=True)
        except ValidationError as exc:
            raise ManifestError(f"invalid predicate: {_describe(exc)}") from exc
        if not canonical:
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

    def approval(self) -> Approval | None:
        return self.predicate if isinstance(self.predicate, Approval) else None

    def checkpoint(self) -> Checkpoint | None:
        return self.predicate if isinstance(self.predicate, Checkpoint) else None

    @property
    def material_digests(self) -> list[str]:
        """sha256 of every input a stage run consumed (for the consumer index)."""
        materials = self.statement.predicate.get("materials")
        if not isinstance(materials, list):
            return []
        found = []
        for m in materials:
            digest = m.get("digest", {}).get("sha256") if isinstance(m, dict) else None
            if isinstance(digest, str):
                found.append(digest)
        return found

    @property
    def stage_key(self) -> str | None:
        key = self.statement.predicate.get("stageKey")
        return key if isinstance(key, str) else None

    @property
    def stage(self) -> str | None:
        """The stage a stage-run ran, or the stage a promotion targets."""
        stage = self.statement.predicate.get("stage")
        return stage if isinstance(stage, str) else None
