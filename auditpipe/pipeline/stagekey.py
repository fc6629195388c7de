"""A stage's key and the inputs it is made of (params, suite digests), with no
ledger and no heavy import: shared by the planner and the no-op fast path
(``auditpipe.noop``), so both compute the very same key."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from auditpipe.manifest.canonical import canonical_bytes
from auditpipe.pipeline.paramfile import read_params_file
from auditpipe.pipeline.params import select_params
from auditpipe.pipeline.stage import PipelineSpec, StageSpec


def stage_key(
    stage: StageSpec,
    deps: Mapping[str, str],
    params: Mapping[str, Any],
    suites: Mapping[str, str],
) -> str:
    """sha256 of everything that, when it changes, makes a stage re-run."""
    body = {
        "definition": stage.definition(),
        "deps": dict(sorted(deps.items())),
        "params": dict(params),
        "suites": dict(suites),
    }
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


class StageInputs:
    """The param values and validation suites of a pipeline's stages (files read once)."""

    def __init__(self, spec: PipelineSpec, params_doc: Mapping[str, Any]) -> None:
        self.spec = spec
        self.params_doc = params_doc
        self._files: dict[str, dict[str, Any]] = {}  # other params files, read once

    def params_for(self, stage: StageSpec) -> dict[str, Any]:
        """The values ``stage`` reads: keys of the pipeline's params file as they
        are, keys of other files (a dvc.yaml's ``{file: [keys]}``) as ``file:key``
        and a whole other file as ``file``."""
        found = select_params(
            self.params_doc, stage.params, params_path=self.spec.params_file, stage=stage.name
        )
        for file, keys in stage.param_files:
            doc = self._params_file(stage, file)
            if not keys:
                found[file] = doc
                continue
            picked = select_params(doc, keys, params_path=file, stage=stage.name)
            found.update({f"{file}:{key}": value for key, value in picked.items()})
        return found

    def _params_file(self, stage: StageSpec, file: str) -> dict[str, Any]:
        if file not in self._files:
            if file == self.spec.params_file:
                self._files[file] = dict(self.params_doc)
            else:
                self._files[file] = read_params_file(
                    self.spec.root / file,
                    missing_hint=f"create {file}, or remove it from the params of {stage.name!r}",
                )
        return self._files[file]

    def suites_for(self, stage: StageSpec) -> dict[str, str]:
        suites = sorted({suite for _data, suite in stage.validate})
        digests = {}
        for suite in suites:
            path = self.spec.root / suite
            try:
                digests[suite] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                digests[suite] = "missing"
        return digests
