"""Quarantine: where the outputs of a run whose data gate failed are kept.

A ``gate_failed`` run produces no artifacts, so its outputs must not stay where
the next stage, a notebook or ``gate`` would pick them up. They move to
``.git/auditpipe/quarantine/<entry id>/<repo-relative path>``: out of the
working tree and of git's reach, next to the signed failed run whose
``products`` record their digests, and easy to inspect or restore.

``auditpipe checkout`` (bringing back the last good outputs) is the user-facing
way back; :func:`restore` is the building block it and tests use to return a
quarantined run's files to the working tree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from auditpipe.errors import ConfigError

QUARANTINE_DIR = "quarantine"


def quarantine_dir(state_dir: Path, entry_id: str) -> Path:
    """Where the outputs of run ``entry_id`` are kept (``state_dir`` is ``.git/auditpipe``)."""
    return state_dir / QUARANTINE_DIR / entry_id


def quarantine(root: Path, state_dir: Path, entry_id: str, paths: Iterable[str]) -> list[str]:
    """Move the outputs that exist among ``paths`` (repo-relative) out of the
    working tree into :func:`quarantine_dir`; returns the paths moved."""
    target = quarantine_dir(state_dir, entry_id)
    moved = []
    for rel in paths:
        source = root / rel
        if not (source.exists() or source.is_symlink()):
            continue
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists() or destination.is_symlink():
            _remove(destination)  # the same run quarantined twice: keep the newest copy
        shutil.move(os.fspath(source), os.fspath(destination))  # a rename on one filesystem
        moved.append(rel)
    return moved


def quarantined(state_dir: Path) -> dict[str, list[str]]:
    """``{entry id: [repo-relative paths]}`` of everything held in quarantine."""
    base = state_dir / QUARANTINE_DIR
    if not base.is_dir():
        return {}
    held: dict[str, list[str]] = {}
    for run in sorted(p for p in base.iterdir() if p.is_dir()):
        held[run.name] = sorted(
            p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file() or p.is_symlink()
        )
    return held


def restore(
    root: Path,
    state_dir: Path,
    entry_id: str,
    *,
    expected: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Move run ``entry_id``'s quarantined files back into the working tree.

    ``expected`` maps repo-relative paths to the sha256 the signed failed run
    recorded for them (its ``products``); a file whose bytes differ is refused,
    since it is no longer what the run wrote. Existing files in the working tree
    are replaced only with ``overwrite``. Returns the restored paths; the run's
    quarantine folder is removed once empty. Raises :class:`ConfigError`.
    """
    source_dir = quarantine_dir(state_dir, entry_id)
    files = quarantined(state_dir).get(entry_id)
    if not files:
        raise ConfigError(
            f"nothing in quarantine for run {entry_id[:12]}",
            path=source_dir,
            hint="list what is held with `ls .git/auditpipe/quarantine`",
        )
    for rel in files:
        want = (expected or {}).get(rel)
        if want is not None and _sha256(source_dir / rel) != want:
            raise ConfigError(
                f"quarantined {rel} no longer has the digest run {entry_id[:12]} recorded",
                path=source_dir / rel,
                hint="it was changed after it was quarantined; inspect it before using it",
            )
        if not overwrite and ((root / rel).exists() or (root / rel).is_symlink()):
            raise ConfigError(
                f"{rel} exists in the working tree; not replacing it",
                path=rel,
                hint="move it away first, or restore with overwrite",
            )
    for rel in files:
        destination = root / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists() or destination.is_symlink():
            _remove(destination)
        shutil.move(os.fspath(source_dir / rel), os.fspath(destination))
    shutil.rmtree(source_dir, ignore_errors=True)
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
