"""The lock's shape and its one serialization: JSON, sorted keys, one fact a line.

::

    {
      "checkpoint": [
        "auditpipe.dev/ledger/<root commit of the ledger branch>",
        "42",
        "<base64 RFC 6962 root hash>",
        "",
        "— auditpipe.dev/ledger/<root commit> <base64(key ID || ECDSA signature)>"
      ],
      "stages": {
        "prepare": "<entry id>",
        "train": "<entry id>"
      },
      "version": 1
    }

``checkpoint`` is a C2SP signed note, one line per array item (the note text is
the items joined with newlines, plus a final newline); it is absent when the
last append was signed keyless (no note signature is made for those yet).
``cosignatures`` (optional) holds witnesses' cosignatures, each with the
checkpoint body it covers.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditpipe.errors import ConfigError
from auditpipe.ledger import layout

LOCK_HINT = (
    "rebuild it with `auditpipe lock` (after `auditpipe ledger pull`) and commit it; "
    "on a merge conflict in auditpipe.lock, do the same"
)


class Cosignature(BaseModel):
    """A witness's signature over one checkpoint body (see ``lock/witness.py``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keyid: str = Field(pattern=r"^[0-9a-f]{64}$")
    checkpoint: list[str] = Field(min_length=3, max_length=3)
    signature: str


class Lock(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    stages: dict[str, str] = Field(default_factory=dict)
    checkpoint: list[str] | None = None
    cosignatures: list[Cosignature] | None = None

    @field_validator("stages")
    @classmethod
    def _ids(cls, value: dict[str, str]) -> dict[str, str]:
        for stage, entry_id in value.items():
            if not layout.ENTRY_ID.match(entry_id):
                raise ValueError(f"stage {stage!r}: {entry_id!r} is not an entry id")
        return value

    def note_text(self) -> str | None:
        return "\n".join(self.checkpoint) + "\n" if self.checkpoint else None

    def render(self) -> bytes:
        doc = self.model_dump(exclude_none=True)
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def note_lines(note: str) -> list[str]:
    return note[:-1].split("\n") if note.endswith("\n") else note.split("\n")


def parse_lock(data: bytes, source: str) -> Lock:
    """A lock from bytes; ``ConfigError`` (exit 2) naming ``source`` and what to do."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("the lock is not UTF-8 text", path=source, hint=LOCK_HINT) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"the lock is not valid JSON: {exc.msg}", path=source, line=exc.lineno, hint=LOCK_HINT
        ) from None
    try:
        return Lock.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ConfigError(
            f"the lock is invalid at {where}: {first['msg']}", path=source, hint=LOCK_HINT
        ) from None
