"""The results of fingerprinting, as frozen values, and their JSON form.

Owns ``Fingerprint`` (one path), ``TableInfo`` / ``Field`` / ``ColumnStats``
(what a tabular file adds) and the conversion of statistic values to plain,
signable JSON (``json_safe``). Nothing here touches the filesystem or pyarrow.

``Fingerprint.to_dict()`` returns only JSON types that RFC 8785 accepts: no
NaN or infinity (written as the strings ``"NaN"``, ``"Infinity"``,
``"-Infinity"``), no integer beyond ±(2^53 - 1) (written as a decimal string),
bytes as lowercase hex, dates and times as ISO 8601 strings, decimals as
strings.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]

Kind = Literal["file", "directory", "symlink"]

# The largest integer every JSON implementation (and RFC 8785) reads exactly.
MAX_SAFE_INT = 2**53 - 1


@dataclass(frozen=True)
class Field:
    """One column of a table schema."""

    name: str
    type: str
    nullable: bool

    def to_dict(self) -> dict[str, JSONValue]:
        return {"name": self.name, "type": self.type, "nullable": self.nullable}


@dataclass(frozen=True)
class ColumnStats:
    """Statistics of one column; ``None`` means "not known", never "empty"."""

    null_count: int | None = None
    min: JSONValue = None
    max: JSONValue = None
    has_min_max: bool = False

    def to_dict(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {}
        if self.null_count is not None:
            out["nullCount"] = self.null_count
        if self.has_min_max:
            out["min"] = self.min
            out["max"] = self.max
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnStats:
        return cls(
            null_count=data.get("nullCount"),
            min=data.get("min"),
            max=data.get("max"),
            has_min_max="min" in data,
        )


@dataclass(frozen=True)
class TableInfo:
    """What a tabular file or dataset adds to its byte fingerprint."""

    format: str
    rows: int
    columns: int
    schema: tuple[Field, ...]
    schema_digest: str
    column_stats: tuple[tuple[str, ColumnStats], ...]
    content_digest: str | None = None
    partitioning: tuple[str, ...] = ()

    def stats(self, column: str) -> ColumnStats:
        """Statistics of ``column`` (a Parquet leaf path for nested columns)."""
        for name, stats in self.column_stats:
            if name == column:
                return stats
        raise KeyError(column)

    def to_dict(self) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {
            "format": self.format,
            "rows": self.rows,
            "columns": self.columns,
            "schema": [f.to_dict() for f in self.schema],
            "schemaDigest": self.schema_digest,
            "columnStats": {name: s.to_dict() for name, s in self.column_stats},
        }
        if self.partitioning:
            out["partitioning"] = list(self.partitioning)
        if self.content_digest is not None:
            out["contentDigest"] = self.content_digest
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableInfo:
        return cls(
            format=data["format"],
            rows=data["rows"],
            columns=data["columns"],
            schema=tuple(Field(f["name"], f["type"], f["nullable"]) for f in data["schema"]),
            schema_digest=data["schemaDigest"],
            column_stats=tuple(
                (name, ColumnStats.from_dict(s)) for name, s in data["columnStats"].items()
            ),
            content_digest=data.get("contentDigest"),
            partitioning=tuple(data.get("partitioning", ())),
        )


@dataclass(frozen=True)
class Fingerprint:
    """The fingerprint of one path.

    ``path`` is repo-relative POSIX (or the path as given when no repository
    bounds it). ``sha256`` is the file's digest, the directory's Merkle digest
    (see ``auditpipe.fingerprint.tree``), or a symlink's target-text digest.
    ``size`` is the byte size (for a directory, the sum of its entries' sizes).
    ``etag`` and ``version_id`` identify the object version an object-store
    URL's digest was read from (S3 through boto3 only; ``None`` elsewhere).
    """

    path: str
    kind: Kind
    sha256: str
    size: int
    files: int | None = None
    target: str | None = None
    table: TableInfo | None = None
    etag: str | None = None
    version_id: str | None = None

    def to_dict(self) -> dict[str, JSONValue]:
        """A resource descriptor of plain JSON types, ready for a signed manifest."""
        out: dict[str, JSONValue] = {
            "path": self.path,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
        }
        if self.files is not None:
            out["files"] = self.files
        if self.target is not None:
            out["target"] = self.target
        if self.table is not None:
            out["table"] = self.table.to_dict()
        if self.etag is not None:
            out["etag"] = self.etag
        if self.version_id is not None:
            out["versionId"] = self.version_id
        return out


def json_safe(value: object) -> JSONValue:
    """Convert a statistic value (as pyarrow returns it) to signable JSON."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return _iso_datetime(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return iso_duration(
            value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds, 6
        )
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def _iso_datetime(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def iso_timestamp(value: int, unit: str, utc: bool) -> str:
    """An epoch count in ``unit`` as ISO 8601, keeping every sub-second digit."""
    digits = _UNIT_DIGITS[unit]
    seconds, frac = divmod(value, 10**digits)
    base = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)).isoformat()
    text = f"{base}.{frac:0{digits}d}" if digits else base
    return text + "Z" if utc else text


def iso_time(value: int, unit: str) -> str:
    """A time-of-day count in ``unit`` as ISO 8601 (``HH:MM:SS[.fff]``)."""
    digits = _UNIT_DIGITS[unit]
    seconds, frac = divmod(value, 10**digits)
    hours, rest = divmod(seconds, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{frac:0{digits}d}" if digits else text


def iso_duration(value: int, digits: int) -> str:
    """A duration of ``value`` * 10^-digits seconds as ISO 8601 ``PT<seconds>S``."""
    sign = "-" if value < 0 else ""
    seconds, frac = divmod(abs(value), 10**digits)
    text = f"{seconds}.{frac:0{digits}d}".rstrip("0").rstrip(".") if digits else str(seconds)
    return f"{sign}PT{text}S"
