"""SLSA provenance v1 for an artifact's whole lineage, as an in-toto Statement v1.

``buildType`` https://auditpipe.dev/slsa/stage-runs/v1 (documented in the
README): ``externalParameters`` are the pipeline file and, per stage run on the
artifact's chain, its command and params; ``resolvedDependencies`` the source
data (materials no run produced) and the code (git commit, and each code
dependency's sha256); ``byproducts`` the ledger entries the chain is made of.
``builder.id`` is the CI workflow identity when every run was signed keyless by
the same one, else the local-runner URI. No SLSA level is claimed inside the
statement (the README says which one the evidence supports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditpipe import __version__
from auditpipe.errors import VerificationFailed
from auditpipe.ledger.layout import entry_path_str
from auditpipe.manifest.canonical import canonical_bytes
from auditpipe.manifest.predicates import StageRun
from auditpipe.provenance.lineage import Lineage, RunNode

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://auditpipe.dev/slsa/stage-runs/v1"
LOCAL_BUILDER = "https://auditpipe.dev/builders/local-runner/v1"


@dataclass(frozen=True)
class Provenance:
    """The statement and its canonical bytes (what gets signed)."""

    statement: dict[str, Any]
    raw: bytes


def provenance(lineage: Lineage, repository: str | None) -> Provenance:
    """The SLSA statement for a verified lineage; refuses one that does not verify."""
    failures = list(lineage.failures())
    if failures or lineage.root is None:
        raise VerificationFailed(
            f"the lineage of {lineage.artifact} does not verify; no provenance is written for it",
            problems=failures or [f"{lineage.artifact}: no signed run produced it"],
        )
    nodes = [n for n in lineage.ordered_runs() if n.run is not None]
    runs: list[tuple[RunNode, StageRun]] = [(n, n.run) for n in nodes if n.run is not None]
    pipelines = sorted({(r.pipeline.path, r.pipeline.sha256) for _n, r in runs if r.pipeline})
    external: dict[str, Any] = {
        "artifact": lineage.artifact,
        "stages": [
            _drop_none(
                stage=r.stage,
                command=r.command,
                params=r.params,
                stageKey=r.stage_key,
                entryId=n.id,
            )
            for n, r in reversed(runs)
        ],
    }
    if pipelines:
        external["pipelines"] = [{"path": p, "sha256": d} for p, d in pipelines]
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": lineage.artifact, "digest": {"sha256": lineage.sha256}}],
        "predicateType": PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": {"auditpipeVersion": __version__},
                "resolvedDependencies": _dependencies(lineage, runs, repository),
            },
            "runDetails": {
                "builder": {"id": _builder(nodes), "version": {"auditpipe": __version__}},
                "metadata": {
                    "invocationId": lineage.root,
                    "startedOn": min(r.started_at for _n, r in runs),
                    "finishedOn": max(r.finished_at for _n, r in runs),
                },
                "byproducts": [
                    {
                        "name": f"auditpipe stage run {r.stage}",
                        "uri": f"git+ledger:refs/heads/auditpipe/ledger:{entry_path_str(n.id)}",
                        "digest": {"sha256": n.id},
                        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                    }
                    for n, r in runs
                ],
            },
        },
    }
    return Provenance(statement, canonical_bytes(statement))


def _dependencies(
    lineage: Lineage, runs: list[tuple[RunNode, StageRun]], repository: str | None
) -> list[dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for source in sorted(lineage.sources.values(), key=lambda s: s.name):
        found[("data", source.name)] = {
            "name": source.name,
            "digest": {"sha256": source.sha256},
            "annotations": {"role": "source-data"},
        }
    for _node, run in runs:
        if run.code.commit:
            uri = f"git+{repository}@{run.code.commit}" if repository else None
            found.setdefault(
                ("commit", run.code.commit),
                _drop_none(
                    uri=uri,
                    digest={"gitCommit": run.code.commit},
                    annotations={"role": "code", "dirty": run.code.dirty},
                ),
            )
        for path, digest in sorted(run.code.deps.items()):
            found.setdefault(
                ("code", f"{path}@{digest}"),
                {"name": path, "digest": {"sha256": digest}, "annotations": {"role": "code"}},
            )
    return list(found.values())


def _builder(nodes: list[RunNode]) -> str:
    """The one keyless CI identity that signed every run, else the local runner."""
    identities = {n.signer.identity if n.signer and n.signer.kind != "key" else None for n in nodes}
    if len(identities) == 1:
        (only,) = identities
        if only and only.startswith("https://"):
            return only
    return LOCAL_BUILDER


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def signed(bundle: bytes) -> bytes:
    """What ``export slsa`` writes for a signature: a key signature as a bare DSSE
    envelope (what in-toto and slsa-verifier read); a keyless one as the whole
    sigstore bundle, since its certificate and log entry are the proof."""
    import json

    from auditpipe.signing.bundle import b64, parse_bundle

    parsed = parse_bundle(bundle)
    if parsed.is_keyless:
        return bundle
    envelope = {
        "payloadType": parsed.payload_type,
        "payload": b64(parsed.payload),
        "signatures": [{"keyid": k or "", "sig": b64(s)} for k, s in parsed.signatures],
    }
    return (json.dumps(envelope, indent=2) + "\n").encode()
