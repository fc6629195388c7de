"""OpenLineage run ids: UUID v7 made when a stage starts, or derived from an entry id."""

from __future__ import annotations

import os
import time
import uuid

# Runs signed before auditpipe recorded a run id get one derived from their
# entry id, so every export of the same ledger names them the same way.
ENTRY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://auditpipe.dev/entry")


def new_run_id() -> str:
    """A UUID v7 (RFC 9562): 48-bit Unix milliseconds, then random bits."""
    millis = time.time_ns() // 1_000_000
    value = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    value[6] = 0x70 | (value[6] & 0x0F)  # version 7
    value[8] = 0x80 | (value[8] & 0x3F)  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(value)))


def run_id_of(entry_id: str, recorded: str | None) -> str:
    """The run id a signed run is exported under: the one it recorded, if any."""
    return recorded or str(uuid.uuid5(ENTRY_NAMESPACE, entry_id))
