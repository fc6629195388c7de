"""The facts object a policy judges: the artifact's lineage as plain data.

This is what CEL rules see (all names are stable; document changes)::

    artifact: {path, sha256}
    runs:     [{id, role (producer | consumer), stage, status, command, params, metrics,
                finishedAt,
                code: {commit, dirty}, signer: {kind, keyid, identity, issuer, trusted},
                gates: [{suite, data, success, failed: [expectation types]}]}]
    stages:   {<stage>: <the run of that stage in the lineage; consumers of the
               artifact itself, e.g. its evaluation, are included>}
    sources:  [{name, sha256, unchanged}]
    intact:   bool   (every entry verifies and every digest on the chain matches)
"""

from __future__ import annotations

from typing import Any

from auditpipe.provenance.lineage import Lineage, RunNode


def run_facts(node: RunNode, role: str = "producer") -> dict[str, Any]:
    run = node.run
    if run is None:
        return {"id": node.id, "stage": node.stage, "status": "unknown", "role": role}
    signer = node.signer
    return {
        "id": node.id,
        "role": role,
        "stage": run.stage,
        "status": run.status,
        "command": run.command or "",
        "params": run.params,
        "metrics": run.metrics,
        "finishedAt": run.finished_at,
        "code": {"commit": run.code.commit or "", "dirty": run.code.dirty},
        "signer": {
            "kind": signer.kind if signer else "unknown",
            "keyid": (signer.keyid or "") if signer else "",
            "identity": (signer.identity or "") if signer else "",
            "issuer": (signer.issuer or "") if signer else "",
            "trusted": node.signature_problem is None,
        },
        "gates": [
            {
                "suite": g.suite,
                "data": g.data,
                "success": g.success,
                "failed": [f.type for f in g.failed_expectations],
            }
            for g in run.validations
        ],
    }


def build_facts(lineage: Lineage) -> dict[str, Any]:
    runs = [run_facts(node) for node in lineage.ordered_runs()]
    runs += [
        run_facts(lineage.runs[c], "consumer")
        for c in lineage.consumers
        if c not in {r["id"] for r in runs}
    ]
    stages: dict[str, Any] = {}
    for run in runs:  # the producer-nearest run of a stage wins
        stages.setdefault(run["stage"], run)
    return {
        "artifact": {"path": lineage.artifact, "sha256": lineage.sha256},
        "runs": runs,
        "stages": stages,
        "sources": [
            {"name": s.name, "sha256": s.sha256, "unchanged": s.ok}
            for s in lineage.sources.values()
        ],
        "intact": not lineage.problems and all(not n.problems for n in lineage.all_runs()),
    }
