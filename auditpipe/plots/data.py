"""Reading a plot's data file (CSV, TSV, JSON, YAML) into records."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from auditpipe.errors import ConfigError
from auditpipe.pipeline.yamlpos import load_data


def read_records(data: bytes, path: str) -> list[dict[str, Any]]:
    """Rows of ``path``'s bytes as a list of mappings, numbers parsed where they are numbers."""
    suffix = path.rsplit(".", 1)[-1].lower()
    if suffix in ("csv", "tsv"):
        text = data.decode("utf-8", errors="replace")
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == "tsv" else ",")
        return [{k: _number(v) for k, v in row.items() if k is not None} for row in reader]
    if suffix == "json":
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise ConfigError(f"invalid JSON: {exc}", path=path) from exc
    else:
        value = load_data(data, where=path)
    if isinstance(value, dict):
        # DVC accepts {"name": [rows]}: the first list found holds the rows.
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if lists else [value]
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ConfigError(
            "plot data must be a list of records", path=path, hint="write [{x: 1, y: 2}, ...]"
        )
    return value


def _number(text: str | None) -> Any:
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
