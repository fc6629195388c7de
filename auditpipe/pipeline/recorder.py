"""Turn the facts of one stage run into a signed stage-run manifest on the ledger.

Used by ``auditpipe record`` (facts given on the command line) and, later, by
the executor and ``auditpipe.record_stage``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auditpipe.errors import ManifestError
from auditpipe.fingerprint import Fingerprint
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import Digest, Material, RunStatus, StageRun
from auditpipe.manifest.statement import SignedStatement, Subject, build_statement
from auditpipe.pipeline import facts
from auditpipe.secrets import EnvRecord, SecretGuard, command_key
from auditpipe.signing.interface import Signer, Verifier

# Dependencies with these suffixes are code: their digests go into ``code.deps``
# and they decide the run's ``dirty`` flag.
CODE_SUFFIXES = frozenset(
    {
        ".py",
        ".r",
        ".sh",
        ".bash",
        ".sql",
        ".ipynb",
        ".jl",
        ".scala",
        ".java",
        ".js",
        ".ts",
        ".rs",
        ".go",
        ".c",
        ".cc",
        ".cpp",
        ".h",
        ".m",
        ".toml",
        ".cfg",
        ".ini",
    }
)


@dataclass(frozen=True)
class RunFacts:
    """What is known about one stage run before it is signed."""

    stage: str
    command: str | None = None
    deps: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = 0
    started_at: str | None = None
    finished_at: str | None = None
    env: EnvRecord = field(default_factory=EnvRecord)
    allow: frozenset[str] = frozenset()
    """Keys the user declared are not secrets (``--allow-secret``)."""


def check_secrets(run: RunFacts) -> None:
    """Refuse a run whose command, params, metrics or paths look like a secret."""
    guard = SecretGuard(run.allow)
    if run.command is not None:
        guard.check_text("command", command_key(run.stage), run.command)
    guard.check_params(run.params)
    guard.check_params(run.metrics, "metric")
    for path in (*run.deps, *run.outs):
        guard.check_text("path", path, path)


def material(fp: Fingerprint, produced_by: str | None = None) -> Material:
    """A fingerprint as a signed resource descriptor."""
    return Material(
        name=fp.path,
        digest=Digest(sha256=fp.sha256),
        size=fp.size,
        kind=fp.kind,
        files=fp.files,
        table=fp.table.to_dict() if fp.table is not None else None,
        produced_by=produced_by,
        etag=fp.etag,
        version_id=fp.version_id,
    )


def describe(ledger: Ledger, rel: str, *, link: bool = True) -> Material:
    """A file or directory as a material (real fingerprint: tables get their
    profile), with ``producedBy`` when a ledger run made it."""
    from auditpipe.fingerprint import fingerprint

    root = ledger.workspace.root
    fp = fingerprint(str(root / rel), root=root)
    return material(fp, producer_of(ledger, fp.sha256) if link else None)


def producer_of(ledger: Ledger, sha256: str, verifier: Verifier | None = None) -> str | None:
    """The newest successful stage run whose outputs include this digest; with a
    ``verifier``, the newest one it vouches for when there is one (a stranger's
    newer claim to have made these bytes does not replace a trusted producer),
    else still the newest: the link is a fact, which a verifier judges later."""
    from auditpipe.errors import Error
    from auditpipe.provenance.lineage import producers

    found = producers(ledger, sha256)
    if verifier is not None:
        for entry in found:
            try:
                verifier.verify(entry.bundle)
            except Error:
                continue
            return entry.id
    return found[0].id if found else None


def build(ledger: Ledger, run: RunFacts) -> SignedStatement:
    """The canonical statement for a run (not yet signed)."""
    check_secrets(run)
    workspace = ledger.workspace
    deps = [workspace.relative(Path(workspace.root, d)) for d in run.deps]
    outs = [workspace.relative(Path(workspace.root, o)) for o in run.outs]
    materials = [describe(ledger, d) for d in deps]
    products = [describe(ledger, o, link=False) for o in outs]
    code_deps = [d for d in deps if Path(d).suffix.lower() in CODE_SUFFIXES]
    status: RunStatus = "succeeded" if run.exit_code == 0 else "failed"
    started = run.started_at or facts.now_rfc3339()
    try:
        predicate = StageRun(
            stage=run.stage,
            status=status,
            command=run.command,
            code=facts.code_state(workspace, code_deps, deps),
            materials=materials,
            products=products,
            params=run.params,
            metrics=run.metrics,
            environment=facts.environment(run.env),
            started_at=started,
            finished_at=run.finished_at or facts.now_rfc3339(),
            exit_code=run.exit_code,
            runner=facts.runner(),
        )
    except ValidationError as exc:
        from auditpipe.manifest.statement import describe_validation

        raise ManifestError(
            f"cannot record stage {run.stage!r}: {describe_validation(exc)}"
        ) from exc
    subjects = [Subject(name=p.name, digest={"sha256": p.digest.sha256}) for p in products]
    return build_statement(subjects, predicate)


def sign_and_append(ledger: Ledger, signer: Signer, statement: SignedStatement) -> str:
    """Sign the statement's exact bytes and append the bundle; returns the entry id."""
    bundle = signer.sign(statement.raw, "application/vnd.in-toto+json")
    return ledger.append(bundle)
