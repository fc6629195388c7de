"""A DVC project's pipeline: every dvc.yaml in the repository, as one PipelineSpec.

dvc.yaml files are found in the root and in subdirectories (hidden directories,
``.dvc`` and ``.git`` are skipped, as are directories named in ``.dvcignore``).
The pipeline's identity (``path``, ``sha256``) is the root dvc.yaml's when it is
the only file; with several, ``sha256`` covers every file's path and digest.
auditpipe only reads DVC's files: it never writes ``dvc.lock`` or DVC's cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from types import MappingProxyType

from auditpipe.errors import ConfigError
from auditpipe.pipeline.artifacts import ModelCard
from auditpipe.pipeline.dag import build_dag, is_within
from auditpipe.pipeline.dvc.reader import read_dvc_file
from auditpipe.pipeline.spec import DEFAULT_PARAMS_FILE, PipelineSpec, StageSpec
from auditpipe.pipeline.yamlpos import display_path

DVC_FILE = "dvc.yaml"
SKIP_DIRS = frozenset({"node_modules", "__pycache__", "venv"})


def find_dvc_files(root: Path) -> list[str]:
    """Repo-relative paths of the dvc.yaml files, the root's first."""
    ignored = _dvcignore(root)
    found: list[str] = []
    for current, dirs, files in os.walk(root):
        rel_dir = Path(current).relative_to(root).as_posix()
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in SKIP_DIRS
            and _join(rel_dir, d) not in ignored
            and d not in ignored
        )
        if DVC_FILE in files:
            found.append(_join(rel_dir, DVC_FILE))
    return sorted(found, key=lambda rel: (rel != DVC_FILE, rel))


def is_dvc_project(root: Path) -> bool:
    """True when the repository has a dvc.yaml (at the root or below)."""
    return (root / DVC_FILE).is_file() or bool(find_dvc_files(root))


def load_dvc_pipeline(root: Path) -> PipelineSpec:
    """Every dvc.yaml of ``root`` read with DVC's semantics into one validated pipeline."""
    root = root.resolve()
    rels = find_dvc_files(root)
    if not rels:
        raise ConfigError("no dvc.yaml found", path=display_path(root))
    stages: dict[str, StageSpec] = {}
    metrics: list[str] = []
    plots: list[dict[str, object]] = []
    cards: dict[str, ModelCard] = {}
    digests = []
    for rel in rels:
        where = display_path(root / rel)
        read = read_dvc_file(root, rel, where)
        digests.append((rel, hashlib.sha256(read.data).hexdigest()))
        for stage in read.stages:
            if stage.name in stages:
                raise ConfigError(
                    f"stage {stage.name!r} is defined twice", path=where, line=stage.line
                )
            stages[stage.name] = stage
        metrics += read.metrics
        plots += read.plots
        cards.update(read.cards)
    stages = _attach_metrics(stages, metrics)
    if len(digests) == 1:
        sha256 = digests[0][1]
    else:
        sha256 = hashlib.sha256("".join(f"{r}\0{d}\n" for r, d in digests).encode()).hexdigest()
    spec = PipelineSpec(
        path=root / rels[0],
        root=root,
        params_file=DEFAULT_PARAMS_FILE,
        signer=None,
        stages=MappingProxyType(stages),
        sha256=sha256,
        files=tuple(rels),
        metrics=tuple(dict.fromkeys(metrics)),
        plots=tuple(MappingProxyType(p) for p in plots),
        artifacts=MappingProxyType(cards),
    )
    build_dag(spec)
    return spec


def _attach_metrics(stages: dict[str, StageSpec], metrics: list[str]) -> dict[str, StageSpec]:
    """Top-level metrics inside a stage's output are read when that stage runs."""
    out = dict(stages)
    for path in metrics:
        for name, stage in out.items():
            if path in stage.metrics:
                break
            if any(is_within(path, o) for o in stage.outs):
                reads = (*stage.reads_metrics, path)
                out[name] = dataclasses.replace(stage, reads_metrics=reads)
                break
    return out


def _join(base: str, name: str) -> str:
    return name if base in ("", ".") else f"{base}/{name}"


def _dvcignore(root: Path) -> set[str]:
    try:
        lines = (root / ".dvcignore").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    # Only plain directory names are honoured; patterns are left to DVC.
    return {
        line.strip().strip("/")
        for line in lines
        if line.strip() and not line.startswith("#") and not any(c in line for c in "*?[!")
    }
