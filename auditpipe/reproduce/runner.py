"""Re-perform one trusted, clean, successful stage run in an isolated checkout.

Refusals (``Refused``, exit 1, nothing run, nothing signed): an entry that is
not a successful stage run, is not signed by a trusted signer, was made with
uncommitted changes, whose pipeline file at the recorded commit is not the one
it signed or gives another command, or whose inputs cannot be put back as they
were (a product missing from the output cache, source data missing or changed).
Otherwise the command runs and a signed ``reproduction/v1`` entry records, per
product, both digests; metric deltas and environment differences go with it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from auditpipe.cache import OutputCache, Product
from auditpipe.errors import CheckFailed, Error
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import (
    Digest,
    Environment,
    MetricDelta,
    ProductCheck,
    Reproduction,
    StageRun,
)
from auditpipe.manifest.statement import Subject, build_statement
from auditpipe.pipeline import facts
from auditpipe.pipeline.diff import flatten
from auditpipe.pipeline.executor import BASE_ENV
from auditpipe.pipeline.recorder import sign_and_append
from auditpipe.pipeline.recording import read_metrics
from auditpipe.pipeline.spec import load_params, load_pipeline, select_params
from auditpipe.provenance.current import current_digest
from auditpipe.reproduce.checkout import materialize, read_at
from auditpipe.signing.interface import Signer, Verifier


class Refused(CheckFailed):
    """The run cannot be reproduced faithfully, so it was not attempted."""


@dataclass(frozen=True)
class Outcome:
    """One reproduction: the new entry, and what matched."""

    entry: str
    run: str
    stage: str
    matches: bool
    products: tuple[ProductCheck, ...]
    metrics: dict[str, MetricDelta]
    environment_differences: tuple[str, ...]
    exit_code: int | None
    seconds: float


def reproduce(
    ledger: Ledger, verifier: Verifier, signer: Signer, cache: OutputCache, run_id: str
) -> Outcome:
    """Reproduce the run ``run_id``; append and return the signed result."""
    entry = ledger.get(run_id)
    run = _admissible(entry, verifier)
    assert run.command is not None and run.pipeline is not None and run.code.commit is not None
    workspace = ledger.workspace
    repo = workspace.open()
    try:
        pipeline = read_at(repo, run.code.commit, run.pipeline.path)
        if pipeline is None or hashlib.sha256(pipeline).hexdigest() != run.pipeline.sha256:
            raise Refused(
                f"the pipeline file {run.pipeline.path} at commit {run.code.commit[:12]} is not "
                f"the one run {run_id[:12]} signed; it cannot be re-performed from that commit"
            )
        with tempfile.TemporaryDirectory(prefix="auditpipe-reproduce-") as tmp:
            root = Path(tmp) / "checkout"
            root.mkdir()
            materialize(repo, run.code.commit, root)
            return _perform(ledger, signer, cache, entry, run, root, workspace.root)
    finally:
        repo.close()


def _admissible(entry: Entry, verifier: Verifier) -> StageRun:
    run = entry.signed.stage_run()
    short = entry.id[:12]
    if run is None:
        raise Refused(f"entry {short} is a {entry.kind}, not a stage run")
    try:
        verifier.verify(entry.bundle)
    except Error as exc:
        raise Refused(
            f"run {short} is not signed by a trusted signer ({exc.message}); only trusted "
            "runs are reproduced",
            hint="trust its key (`auditpipe keys trust`) if it should count as evidence",
        ) from exc
    if run.status != "succeeded":
        raise Refused(
            f"run {short} of {run.stage} {run.status.replace('_', ' ')}; nothing to match"
        )
    if run.code.dirty:
        files = ", ".join(run.code.dirty_files or []) or "its code dependencies"
        raise Refused(
            f"run {short} of {run.stage} was made with uncommitted changes ({files}); "
            f"commit {str(run.code.commit)[:12]} does not hold what it ran"
        )
    if not run.code.commit or run.pipeline is None or not run.command:
        raise Refused(f"run {short} recorded no commit, pipeline file or command to re-perform")
    return run


def _perform(
    ledger: Ledger,
    signer: Signer,
    cache: OutputCache,
    entry: Entry,
    run: StageRun,
    root: Path,
    workspace_root: Path,
) -> Outcome:
    assert run.pipeline is not None and run.code.commit is not None
    spec = load_pipeline(root, root / run.pipeline.path)
    stage = spec.stages.get(run.stage)
    if stage is None or stage.cmd != run.command:
        found = "no such stage" if stage is None else f"command {stage.cmd!r}"
        raise Refused(
            f"the pipeline at commit {run.code.commit[:12]} gives {found} for {run.stage!r}, "
            f"not the signed command {run.command!r}"
        )
    _apply_params(root / spec.params_file, run.params)
    if stage.params and select_params(
        load_params(load_pipeline(root, root / run.pipeline.path)),
        stage.params,
        params_path=spec.params_file,
    ) != dict(run.params):
        raise Refused(f"the recorded params of {run.stage} cannot be written to {spec.params_file}")
    problems = _inputs(run, root, workspace_root, cache)
    if problems:
        raise Refused(
            f"cannot reproduce run {entry.id[:12]} of {run.stage}: {'; '.join(problems)}; "
            "the run was not attempted"
        )
    for out in stage.all_outputs:
        path = root / out
        if stage.options(out).persist:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
    env = {k: os.environ[k] for k in (*BASE_ENV, *stage.env) if k in os.environ}
    env["AUDITPIPE_STAGE"] = stage.name
    started, clock = facts.now_rfc3339(), time.monotonic()
    proc = subprocess.run(
        stage.cmd, shell=True, cwd=root / stage.wdir, env=env, capture_output=True, check=False
    )
    seconds = time.monotonic() - clock
    finished = facts.now_rfc3339()
    signed = {s.name: s.sha256 for s in entry.signed.statement.subject}
    checks = []
    for name, recorded in sorted(signed.items()):
        now = current_digest(root, name)
        checks.append(
            ProductCheck(
                name=name,
                recorded=Digest(sha256=recorded),
                reproduced=Digest(sha256=now) if now else None,
                same=now == recorded,
            )
        )
    metrics = _metric_deltas(run.metrics, read_metrics(root, stage.metrics))
    from auditpipe.secrets.guard import SecretGuard

    recorded_env = SecretGuard().split_env(
        stage.env, os.environ, public=stage.env_public, secret=stage.env_secret
    )
    environment = facts.environment(recorded_env)
    differences = _env_differences(run.environment, environment)
    matches = proc.returncode == 0 and all(c.same for c in checks)
    predicate = Reproduction(
        run=entry.id,
        stage=run.stage,
        command=stage.cmd,
        commit=run.code.commit,
        matches=matches,
        products=checks,
        metrics=metrics,
        environment=environment,
        environment_differences=differences,
        started_at=started,
        finished_at=finished,
        exit_code=proc.returncode,
        runner=facts.runner(),
    )
    subject = Subject(name=f"stage-run:{run.stage}", digest={"sha256": entry.id})
    new_id = sign_and_append(ledger, signer, build_statement([subject], predicate))
    return Outcome(
        new_id,
        entry.id,
        run.stage,
        matches,
        tuple(checks),
        metrics,
        tuple(differences),
        proc.returncode,
        seconds,
    )


def _inputs(run: StageRun, root: Path, workspace_root: Path, cache: OutputCache) -> list[str]:
    """Put every material in the checkout as the run read it; what cannot be, named."""
    problems = []
    for m in run.materials:
        want = m.digest.sha256
        here = current_digest(root, m.name)
        if here == want:
            continue  # committed at that commit, unchanged
        dest = root / m.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        elif os.path.lexists(dest):
            dest.unlink()
        if m.produced_by:
            product = Product(m.name, m.kind, want)
            if not cache.has(product):
                problems.append(
                    f"{m.name} (made by run {m.produced_by[:12]}) is not in the output cache"
                )
                continue
            cache.restore(root, [product])
            continue
        now = current_digest(workspace_root, m.name)
        if now is None:
            problems.append(f"source data {m.name} is missing")
        elif now != want:
            problems.append(f"source data {m.name} changed ({want[:12]} -> {now[:12]})")
        else:
            source = workspace_root / m.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, dest, symlinks=True)
            else:
                shutil.copy2(source, dest)
    return problems


def _apply_params(path: Path, params: dict[str, Any]) -> None:
    """Write the recorded values into the checkout's params file (YAML/JSON)."""
    if not params or path.suffix == ".toml":
        return
    try:
        doc = yaml.safe_load(path.read_text()) if path.exists() else {}
    except (OSError, yaml.YAMLError):
        return
    if not isinstance(doc, dict):
        return
    for key, value in params.items():
        if key in doc:
            doc[key] = value
            continue
        node = doc
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node[last] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _metric_deltas(before: dict[str, Any], after: dict[str, Any]) -> dict[str, MetricDelta]:
    old, new = flatten(before), flatten(after)
    return {
        key: MetricDelta(recorded=old.get(key), reproduced=new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }


def _env_differences(before: Environment, after: Environment) -> list[str]:
    found = []
    if before.python != after.python:
        found.append(f"python {before.python} -> {after.python}")
    if before.platform != after.platform:
        found.append(f"platform {before.platform} -> {after.platform}")
    if before.packages_digest != after.packages_digest:
        old, new = set(before.packages), set(after.packages)
        for pkg in sorted(old - new)[:20]:
            found.append(f"package {pkg} no longer installed")
        for pkg in sorted(new - old)[:20]:
            found.append(f"package {pkg} now installed")
    return found
