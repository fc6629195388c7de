"""What report templates see: frozen values of plain strings, numbers and lists.

Templates never reach into the ledger or the manifest models: everything they
print is prepared here, already formatted (digests in full, sizes in bytes,
values as JSON), so a company's own template cannot get a fact wrong.
Templates can rely on these names; document changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditpipe.pipeline.diff import flatten


@dataclass(frozen=True)
class Row:
    """One key/value line of a table."""

    key: str
    value: str


@dataclass(frozen=True)
class ColumnView:
    name: str
    type: str
    nullable: bool
    null_count: str
    min: str
    max: str


@dataclass(frozen=True)
class TableView:
    """The profile of a tabular file (``Material.table``)."""

    format: str
    rows: str
    columns: str
    schema_digest: str
    content_digest: str
    partitioning: str
    fields: list[ColumnView] = field(default_factory=list)


@dataclass(frozen=True)
class FileView:
    """An input or output of a run."""

    name: str
    sha256: str
    size: str
    kind: str
    produced_by: str
    """The producing run's id, or "" for source data."""
    producer_stage: str
    table: TableView | None = None


@dataclass(frozen=True)
class ExpectationView:
    type: str
    column: str
    kwargs: str
    observed: str


@dataclass(frozen=True)
class GateView:
    """One validation gate as recorded in a run."""

    suite: str
    suite_path: str
    suite_digest: str
    data: str
    data_digest: str
    success: bool
    statistics: list[Row] = field(default_factory=list)
    failed: list[ExpectationView] = field(default_factory=list)


@dataclass(frozen=True)
class SignerView:
    description: str
    kind: str
    keyid: str
    identity: str
    issuer: str
    trusted: bool
    problem: str
    key_file: str
    """``policies/keys/<keyid>.pem`` for a local key, else ""."""
    tlog: str = ""
    """The transparency-log entry of a keyless signature (index, time, log id)."""
    person: str = ""
    """The person in ``policies/people.yaml`` this signer belongs to, or ""."""


@dataclass(frozen=True)
class EnvView:
    """A Python environment runs were recorded in."""

    python: str
    platform: str
    packages: int
    packages_digest: str
    variables: list[Row] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    """``stage (id12)`` of the runs recorded in it."""


@dataclass(frozen=True)
class RunView:
    """One signed stage run, as its section of the report shows it."""

    number: int
    anchor: str
    id: str
    stage: str
    role: str
    """``producer`` (on the artifact's chain) or ``consumer`` (used the artifact)."""
    status: str
    ok: bool
    problems: list[str]
    signer: SignerView
    command: str = ""
    started_at: str = ""
    finished_at: str = ""
    duration: str = ""
    exit_code: str = ""
    runner: str = ""
    ci_run_url: str = ""
    commit: str = ""
    tree: str = ""
    dirty: bool = False
    pipeline: str = ""
    stage_key: str = ""
    code_deps: list[Row] = field(default_factory=list)
    params: list[Row] = field(default_factory=list)
    metrics: list[Row] = field(default_factory=list)
    materials: list[FileView] = field(default_factory=list)
    products: list[FileView] = field(default_factory=list)
    gates: list[GateView] = field(default_factory=list)
    logs: list[Row] = field(default_factory=list)
    environment: EnvView | None = None
    dirty_files: list[str] = field(default_factory=list)
    reproductions: list[str] = field(default_factory=list)
    """One line per trusted reproduction/v1 entry of this run."""


@dataclass(frozen=True)
class SourceView:
    """Input data no recorded run produced, with its fingerprint."""

    name: str
    sha256: str
    current: str
    ok: bool
    problems: list[str]
    size: str
    used_by: list[str]
    code: bool
    """A code dependency of the runs that read it (recorded in their ``code.deps``)."""
    table: TableView | None = None


@dataclass(frozen=True)
class RuleView:
    rule: str
    passed: bool
    detail: str
    missing: bool = False
    """Nothing to check: shown as such, never as a pass."""


@dataclass(frozen=True)
class PolicyView:
    name: str
    path: str
    sha256: str
    allow: bool
    rules: list[RuleView]
    """Failures first, then passes, each in policy order."""


@dataclass(frozen=True)
class PromotionView:
    id: str
    stage: str
    time: str
    by: str
    policy: str
    signer: str


@dataclass(frozen=True)
class Recheck:
    """How an auditor re-checks one item without trusting this report."""

    what: str
    subject: str
    """An entry id, or a file's path."""
    expect: str
    """What the commands must print (the id or sha256), or ""."""
    commands: list[str]


def text(value: Any) -> str:
    """A value as a report prints it: strings bare, everything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def rows(mapping: Mapping[str, Any]) -> list[Row]:
    """Nested params or metrics as sorted ``a.b = value`` rows."""
    flat = flatten(mapping)
    return [Row(key, text(flat[key])) for key in sorted(flat)]


def size(value: int | None) -> str:
    return "" if value is None else f"{value:,} B"


def table_view(table: Mapping[str, Any] | None) -> TableView | None:
    """A ``Material.table`` profile (as the fingerprinter writes it) for a template."""
    if not table:
        return None
    stats = table.get("columnStats") or {}
    fields = []
    for column in table.get("schema") or []:
        name = str(column.get("name", ""))
        col = stats.get(name) or {}
        fields.append(
            ColumnView(
                name=name,
                type=str(column.get("type", "")),
                nullable=bool(column.get("nullable", True)),
                null_count=text(col.get("nullCount")),
                min=text(col.get("min")) if "min" in col else "",
                max=text(col.get("max")) if "max" in col else "",
            )
        )
    return TableView(
        format=text(table.get("format")),
        rows=text(table.get("rows")),
        columns=text(table.get("columns")),
        schema_digest=text(table.get("schemaDigest")),
        content_digest=text(table.get("contentDigest")),
        partitioning=", ".join(str(p) for p in table.get("partitioning") or []),
        fields=fields,
    )
