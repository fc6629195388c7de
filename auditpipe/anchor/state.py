"""This clone's anchor under ``.git/auditpipe/``: the last verified checkpoint,
its Merkle frontier, and the ledger trees it was verified at.

``anchor.json`` holds the checkpoint (origin, size, root), the head commit, the
frontier, and the entries and index tree ids; ``anchor-leaves.bin`` the leaf
ids (32 bytes each, in order) so a rewrite can be reported entry by entry.
Written atomically (temp file + rename); a state that does not parse is
treated as absent and rebuilt by a full walk.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

STATE_FILE = "anchor.json"
LEAVES_FILE = "anchor-leaves.bin"


class AnchorState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    origin: str
    head: str
    size: int
    root: str
    frontier: list[str]
    entries_tree: str | None
    index_tree: str | None
    known: dict[int, str] = {}
    """Roots of earlier checkpoints proved consistent with this one (size -> root hex)."""


def read_state(state_dir: Path) -> tuple[AnchorState, list[bytes]] | None:
    try:
        state = AnchorState.model_validate_json((state_dir / STATE_FILE).read_bytes())
        raw = (state_dir / LEAVES_FILE).read_bytes()
    except (FileNotFoundError, ValidationError, ValueError):
        return None
    if len(raw) != 32 * state.size:
        return None
    return state, [raw[i : i + 32] for i in range(0, len(raw), 32)]


def write_state(state_dir: Path, state: AnchorState, leaves: list[bytes]) -> None:
    _atomic(state_dir / LEAVES_FILE, b"".join(leaves))
    _atomic(state_dir / STATE_FILE, state.model_dump_json().encode())


def clear_state(state_dir: Path) -> None:
    for name in (STATE_FILE, LEAVES_FILE):
        (state_dir / name).unlink(missing_ok=True)


def _atomic(target: Path, data: bytes) -> None:
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
