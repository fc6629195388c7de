"""The expanded pipeline as in-process values: ``StageSpec`` and ``PipelineSpec``.

Owns what one stage is once parsed (and the definition its key is made from);
``auditpipe.pipeline.spec`` (auditpipe.yaml) and ``auditpipe.pipeline.dvc``
(dvc.yaml) own the file formats that produce them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from auditpipe.pipeline.outs import DEFAULT, OutOptions
from auditpipe.pipeline.remotes import Remotes

if TYPE_CHECKING:
    from auditpipe.pipeline.artifacts import ModelCard


@dataclass(frozen=True)
class StageSpec:
    """One (expanded) stage, paths normalized, in file order of appearance."""

    name: str
    cmd: str
    wdir: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    metrics: tuple[str, ...]
    params: tuple[str, ...]
    validate: tuple[tuple[str, str], ...]
    env: tuple[str, ...]
    content: bool
    line: int
    desc: str | None = None
    out_options: tuple[tuple[str, OutOptions], ...] = ()
    """Options of ``outs``/``metrics`` that differ from the defaults, by path."""
    env_public: tuple[str, ...] = ()  # declared public / secret (spec_env.py)
    env_secret: tuple[str, ...] = ()
    # For cluster executors; not in the stage key (see pipeline/resources.py).
    resources: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    retries: int = 0

    frozen: bool = False
    """Never re-run (DVC's ``frozen``): the stage counts as up to date as it is."""
    always_changed: bool = False
    """Always re-run (DVC's ``always_changed``); its downstream follows its outputs."""
    param_files: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Params read from files other than the pipeline's: ``(file, keys)``, no keys = all."""
    plots: tuple[str, ...] = ()
    """Plot files the stage writes (outputs, like ``metrics``)."""
    reads_metrics: tuple[str, ...] = ()
    """Metrics files inside the stage's outputs (a dvc.yaml's top-level ``metrics:``)."""
    source: str | None = None
    """The file that declared the stage, when it is not the pipeline file (a dvc.yaml)."""

    def options(self, path: str) -> OutOptions:
        """The options of one output (the defaults unless the file set some)."""
        return dict(self.out_options).get(path, DEFAULT)

    @property
    def all_outputs(self) -> tuple[str, ...]:
        """``outs``, ``metrics`` then ``plots``: everything the stage writes."""
        return self.outs + self.metrics + self.plots

    def definition(self) -> dict[str, Any]:
        """The expanded definition as JSON-able data, for the stage key.

        ``line`` and ``desc`` are left out, and lists whose order carries no
        meaning are sorted, so moving or re-documenting a stage changes nothing.
        """
        body: dict[str, Any] = {
            "name": self.name,
            "cmd": self.cmd,
            "wdir": self.wdir,
            "deps": sorted(self.deps),
            "outs": sorted(self.outs),
            "metrics": sorted(self.metrics),
            "params": sorted(self.params),
            "validate": [list(pair) for pair in self.validate],
            "env": sorted(self.env),
            "content": self.content,
        }
        # Fields newer than the key format enter it only when used, so the key of
        # a stage written without them never changes.
        if self.out_options:
            body["outOptions"] = {p: o.changed() for p, o in sorted(self.out_options)}
        if self.param_files:
            body["paramFiles"] = [[f, list(k)] for f, k in self.param_files]
        if self.plots:
            body["plots"] = sorted(self.plots)
        return body


@dataclass(frozen=True)
class PipelineSpec:
    """A loaded ``auditpipe.yaml``: its stages (expanded, file order) and identity."""

    path: Path
    root: Path
    params_file: str
    signer: str | None
    stages: Mapping[str, StageSpec]
    sha256: str
    secrets_allow: tuple[str, ...] = ()
    artifacts: Mapping[str, ModelCard] = field(default_factory=lambda: MappingProxyType({}))
    """Model cards (``artifacts:``, pipeline/artifacts.py)."""
    executor: str | None = None
    """``executor:`` of the pipeline file (``local`` or ``ray``; None: local)."""
    remotes: Remotes = field(default_factory=Remotes)
    """``cache:`` of the pipeline file: the remote output caches (pipeline/remotes.py)."""
    files: tuple[str, ...] = ()
    """The dvc.yaml files read, repo-relative, when the pipeline comes from DVC."""
    metrics: tuple[str, ...] = ()
    """Top-level ``metrics:`` files (a dvc.yaml's), repo-relative."""
    plots: tuple[Mapping[str, Any], ...] = ()
    """Plot definitions: ``{"id", "files": {path: y}, "x", "template", ...}``."""
