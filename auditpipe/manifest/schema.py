"""The JSON Schemas shipped with the package, generated from the predicate models.

``python -m auditpipe.manifest.schema`` rewrites ``schemas/*.schema.json``; a test
fails when the shipped files drift from the models.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from auditpipe.manifest.predicates import KIND_OF, PREDICATES

SCHEMA_DIR = "schemas"


def schema_filename(predicate_type: str) -> str:
    return f"{KIND_OF[predicate_type]}-v1.schema.json"


def generate(predicate_type: str) -> dict[str, Any]:
    """The JSON Schema of a whole statement carrying this predicate type."""
    predicate = PREDICATES[predicate_type].model_json_schema(by_alias=True)
    defs = predicate.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": predicate_type + "/schema.json",
        "title": f"in-toto Statement v1 with {predicate_type}",
        "type": "object",
        "additionalProperties": False,
        "required": ["_type", "subject", "predicateType", "predicate"],
        "properties": {
            "_type": {"const": "https://in-toto.io/Statement/v1"},
            "subject": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "digest"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "digest": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                },
            },
            "predicateType": {"const": predicate_type},
            "predicate": predicate,
        },
        "$defs": defs,
    }


def load(predicate_type: str) -> dict[str, Any]:
    """The shipped schema for a predicate type (read from package data)."""
    text = (
        resources.files("auditpipe.manifest")
        .joinpath(SCHEMA_DIR, schema_filename(predicate_type))
        .read_text(encoding="utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def write_all(directory: Path) -> list[Path]:
    written = []
    for predicate_type in PREDICATES:
        target = directory / schema_filename(predicate_type)
        text = json.dumps(generate(predicate_type), indent=2, sort_keys=True) + "\n"
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in write_all(Path(__file__).parent / SCHEMA_DIR):
        print(path)
