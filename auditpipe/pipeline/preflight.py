"""Checks made on every selected stage before any command runs: nothing that
looks like a secret may reach a stage's signed record."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from auditpipe.pipeline.params import select_params
from auditpipe.pipeline.spec import PipelineSpec
from auditpipe.secrets import SecretGuard, command_key


def check_secrets(
    spec: PipelineSpec,
    stages: Sequence[str],
    params_doc: Mapping[str, Any],
    allow: Iterable[str] = (),
) -> SecretGuard:
    """Refuse (``SecretError``) the first stage whose command, params or ``env:``
    looks like it holds a secret; returns the guard the recorder uses."""
    guard = SecretGuard.of(spec.secrets_allow, allow)
    for name in stages:
        stage = spec.stages[name]
        guard.check_text("command", command_key(name), stage.cmd)
        for path in (*stage.deps, *stage.all_outputs):  # s3://key:secret@bucket/...
            guard.check_text("path", path, path)
        if stage.params:
            guard.check_params(
                select_params(params_doc, stage.params, params_path=spec.params_file, stage=name)
            )
        guard.split_env(stage.env, os.environ, public=stage.env_public, secret=stage.env_secret)
    return guard


def secret_values(spec: PipelineSpec, stages: Sequence[str], guard: SecretGuard) -> tuple[str, ...]:
    """The values of the stages' secret variables, to keep them off the terminal too."""
    found: set[str] = set()
    for name in stages:
        stage = spec.stages[name]
        env = guard.split_env(
            stage.env, os.environ, public=stage.env_public, secret=stage.env_secret
        )
        found.update(env.secret_values)
    return tuple(sorted(found, key=len, reverse=True))
