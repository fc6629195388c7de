"""SLSA provenance from a lineage: builder identity, dependencies, refusal on problems."""

from __future__ import annotations

import json

import pytest

from auditpipe.errors import VerificationFailed
from auditpipe.export.slsa import LOCAL_BUILDER, provenance
from auditpipe.manifest.predicates import (
    CodeState,
    Digest,
    Environment,
    Material,
    Runner,
    StageRun,
)
from auditpipe.provenance.lineage import Lineage, RunNode, SourceNode
from auditpipe.signing.interface import SignerIdentity

WORKFLOW = "https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"


def _run(stage: str, materials: list[Material], products: list[Material]) -> StageRun:
    return StageRun(
        stage=stage,
        status="succeeded",
        command=f"python {stage}.py",
        code=CodeState(commit="1" * 40, dirty=False, deps={f"{stage}.py": "c" * 64}),
        materials=materials,
        products=products,
        params={"seed": 7},
        environment=Environment(python="3.11", platform="linux", packages_digest="0" * 64),
        started_at=f"2026-01-01T00:00:0{len(stage)}Z",
        finished_at=f"2026-01-01T00:01:0{len(stage)}Z",
        runner=Runner(user="ci", host="runner"),
    )


def _lineage(prep_signer: SignerIdentity, train_signer: SignerIdentity) -> Lineage:
    raw = Material(name="data/raw.csv", digest=Digest(sha256="a" * 64))
    prepared = Material(name="data/prep.csv", digest=Digest(sha256="b" * 64))
    model = Material(name="model.pkl", digest=Digest(sha256="d" * 64))
    prep = RunNode("e" * 64, "prep", _run("prep", [raw], [prepared]), signer=prep_signer)
    prep.sources.append("data/raw.csv")
    linked = prepared.model_copy(update={"produced_by": "e" * 64})
    train = RunNode("f" * 64, "train", _run("train", [linked], [model]), signer=train_signer)
    train.inputs.append("e" * 64)
    lineage = Lineage(artifact="model.pkl", sha256="d" * 64, root="f" * 64)
    lineage.runs = {prep.id: prep, train.id: train}
    lineage.sources = {"data/raw.csv": SourceNode("data/raw.csv", "a" * 64, "a" * 64)}
    return lineage


def _ci() -> SignerIdentity:
    return SignerIdentity(kind="sigstore", identity=WORKFLOW, issuer=ISSUER)


def test_runs_all_signed_by_one_ci_workflow_name_it_as_the_builder() -> None:
    made = provenance(_lineage(_ci(), _ci()), "https://github.com/acme/models.git")
    predicate = made.statement["predicate"]
    assert predicate["runDetails"]["builder"]["id"] == WORKFLOW
    assert json.loads(made.raw) == made.statement
    deps = predicate["buildDefinition"]["resolvedDependencies"]
    assert {"name": "data/raw.csv", "digest": {"sha256": "a" * 64}} | {
        "annotations": {"role": "source-data"}
    } in deps
    assert any(d.get("uri") == f"git+https://github.com/acme/models.git@{'1' * 40}" for d in deps)
    stages = predicate["buildDefinition"]["externalParameters"]["stages"]
    assert [s["stage"] for s in stages] == ["prep", "train"]
    assert predicate["runDetails"]["metadata"]["startedOn"] == "2026-01-01T00:00:04Z"


@pytest.mark.parametrize(
    "signers",
    [
        (SignerIdentity(kind="key", keyid="k" * 64), _ci()),
        (SignerIdentity(kind="key", keyid="k" * 64), SignerIdentity(kind="key", keyid="k" * 64)),
        (
            _ci(),
            SignerIdentity(
                kind="sigstore", identity=WORKFLOW.replace("main", "dev"), issuer=ISSUER
            ),
        ),
    ],
    ids=["mixed", "local-key", "two-workflows"],
)
def test_anything_else_is_the_local_runner(signers: tuple[SignerIdentity, SignerIdentity]) -> None:
    made = provenance(_lineage(*signers), None)
    assert made.statement["predicate"]["runDetails"]["builder"]["id"] == LOCAL_BUILDER


def test_a_lineage_with_problems_gets_no_provenance() -> None:
    lineage = _lineage(_ci(), _ci())
    lineage.runs["e" * 64].signature_problem = "signed by key k, which is not trusted"
    with pytest.raises(VerificationFailed) as caught:
        provenance(lineage, None)
    assert "not trusted" in caught.value.diagnostics()
