"""``auditpipe.record_stage``: record a stage run from inside your own orchestrator.

::

    with auditpipe.record_stage("train", deps=["data/train.parquet"],
                                outs=["models/model.pkl"], params={"lr": 0.1}) as run:
        fit_and_save()
        run.log_metrics({"accuracy": 0.93})

produces the same signed stage-run manifest ``auditpipe run`` does. An exception
inside the block records a failed run and is re-raised.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditpipe.export.openlineage.runid import new_run_id
from auditpipe.fingerprint import StatCache, fingerprint_many
from auditpipe.ledger.ledger import Ledger
from auditpipe.lock.update import update_lock
from auditpipe.pipeline import facts
from auditpipe.pipeline.recorder import sign_and_append
from auditpipe.pipeline.recording import stage_run_statement
from auditpipe.secrets import SecretGuard, command_key
from auditpipe.signing.factory import signer_for
from auditpipe.workspace import Workspace


@dataclass
class StageRecording:
    """Handed to the ``with`` block: add metrics; read the entry id afterwards."""

    stage: str
    metrics: dict[str, Any] = field(default_factory=dict)
    entry_id: str | None = None

    def log_metrics(self, values: Mapping[str, Any]) -> None:
        self.metrics.update(values)


@contextlib.contextmanager
def record_stage(
    stage: str,
    *,
    deps: Sequence[str | Path] = (),
    outs: Sequence[str | Path] = (),
    params: Mapping[str, Any] | None = None,
    command: str | None = None,
    env: Sequence[str] = (),
    secret_env: Sequence[str] = (),
    allow_secrets: Sequence[str] = (),
    root: str | Path = ".",
    key: str | None = None,
) -> Iterator[StageRecording]:
    """Fingerprint ``deps`` now, run the block, then sign and append the run.

    ``env`` names variables to record: by value, unless the name or value looks
    like a secret; ``secret_env`` ones by name only (set / not set). The command
    and params are checked for secrets before the block runs (``SecretError``);
    ``allow_secrets`` names keys that look like secrets but are not.
    """
    guard = SecretGuard.of(allow_secrets)
    if command is not None:
        guard.check_text("command", command_key(stage), command)
    guard.check_params(dict(params or {}))
    env_record = guard.split_env([*env, *secret_env], os.environ, secret=secret_env)
    workspace = Workspace.discover(root)
    rel_deps = [workspace.relative(Path(workspace.root, d)) for d in deps]
    rel_outs = [workspace.relative(Path(workspace.root, o)) for o in outs]
    with Ledger(workspace) as ledger, StatCache(StatCache.default_path(workspace.git_dir)) as cache:
        signer = signer_for(workspace, key)  # fail before the work, not after it
        dep_fps = fingerprint_many(
            [str(workspace.root / d) for d in rel_deps], root=workspace.root, cache=cache
        )
        recording = StageRecording(stage)
        started, run_id = facts.now_rfc3339(), new_run_id()
        succeeded = False
        try:
            yield recording
            succeeded = True
        finally:
            present = [o for o in rel_outs if (workspace.root / o).exists()]
            out_fps = fingerprint_many(
                [str(workspace.root / o) for o in present], root=workspace.root, cache=cache
            )
            statement = stage_run_statement(
                ledger,
                stage=stage,
                command=command,
                succeeded=succeeded and len(present) == len(rel_outs),
                deps={fp.path: fp for fp in dep_fps},
                outputs={fp.path: fp for fp in out_fps},
                params=dict(params or {}),
                metrics=recording.metrics,
                env=env_record,
                guard=guard,
                started_at=started,
                finished_at=facts.now_rfc3339(),
                exit_code=0 if succeeded else 1,
                openlineage_run_id=run_id,
            )
            recording.entry_id = sign_and_append(ledger, signer, statement)
            update_lock(ledger, signer, {stage: recording.entry_id})
            _keep_products(workspace, ledger, recording.entry_id)


def _keep_products(workspace: Workspace, ledger: Ledger, entry_id: str) -> None:
    """Products of a successful signed run go to the output cache, as with ``run``;
    the run is signed already, so a cache problem does not undo it."""
    from auditpipe.cache import open_cache
    from auditpipe.cache.runs import products_of
    from auditpipe.errors import CacheError

    cache = open_cache(workspace)
    for product in products_of(ledger.get(entry_id)):
        with contextlib.suppress(CacheError, OSError):
            cache.keep(workspace.root, product)
