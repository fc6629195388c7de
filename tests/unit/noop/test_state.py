"""The verified no-op state: its trust digest covers every trust file, and it
authenticates only under this user's key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditpipe.noop import state
from auditpipe.trust import root as trust_root


def test_trust_files_are_the_trust_roots() -> None:
    assert state.TRUST_KEY_DIRS == trust_root.KEY_DIRS
    assert state.TRUST_FILES == trust_root.TRUST_FILES


@pytest.mark.parametrize(
    "changed",
    ["policies/keys/k.pem", "policies/people-keys/p.pem", *trust_root.TRUST_FILES],
)
def test_any_trust_file_changes_the_digest(tmp_path: Path, changed: str) -> None:
    before = state.trust_digest(tmp_path)
    (tmp_path / changed).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / changed).write_text("x")
    assert state.trust_digest(tmp_path) != before


def test_state_round_trips_and_rejects_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITPIPE_CONFIG_DIR", str(tmp_path / "config"))
    git_dir = tmp_path / ".git"
    (git_dir / "auditpipe").mkdir(parents=True)
    verdict = state.Verdict("a" * 64, "b" * 64, {"out/x": "c" * 64})
    written = state.NoopState("d" * 40, None, "e" * 64, {"s": verdict}, True)
    state.write_state(git_dir, written)
    assert state.read_state(git_dir) == written
    path = git_dir / "auditpipe" / state.STATE_FILE
    doc = json.loads(path.read_text())
    doc["body"]["stages"]["s"]["run"] = "f" * 64
    path.write_text(json.dumps(doc))
    assert state.read_state(git_dir) is None
    (tmp_path / "config" / state.MAC_KEY_FILE).unlink()  # another user's state
    state.write_state(git_dir, written)
    (tmp_path / "config" / state.MAC_KEY_FILE).write_bytes(b"k" * 32)
    assert state.read_state(git_dir) is None
