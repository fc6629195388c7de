"""Witnesses: `auditpipe checkpoint --cosign` and the policy rule `witnessed`."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.conftest import Project, Result

Cli = Callable[..., Result]


def test_witnessed_rule_needs_a_cosignature_covering_the_lineage(
    project: Project, cli: Cli
) -> None:
    generated = cli("keys", "generate", "--name", "witness", "--json")
    witness = json.loads(generated.out)["keyid"]
    exported = project.root / "witness.pub"
    assert cli("keys", "export", "--name", "witness", "-o", str(exported)).code == 0
    assert cli("keys", "trust", str(exported)).code == 0
    exported.unlink()
    policy = (
        "version: 1\nname: w\nartifacts: ['models/*.pkl']\n"
        f"rules:\n  - witnessed: {{by: [{witness}], min: 1}}\n"
    )
    project.gen({"models/model.pkl": "m\n", "policies/w.yaml": policy})
    assert cli("record", "--stage", "train", "--out", "models/model.pkl").code == 0

    denied = cli("gate", "--policy", "policies/w.yaml", "--json")
    assert denied.code == 1
    rule = next(r for r in json.loads(denied.out)[0]["rules"] if "witness" in r["rule"])
    assert rule["passed"] is False
    assert "0 of 1 required witness(es)" in rule["detail"]

    cosigned = cli("checkpoint", "--cosign", "--key", "witness")
    assert cosigned.code == 0, cosigned.err
    lock = json.loads((project.root / "auditpipe.lock").read_text())
    assert [c["keyid"] for c in lock["cosignatures"]] == [witness]
    assert cli("gate", "--policy", "policies/w.yaml").code == 0

    # a later run is not covered by the old cosignature
    project.gen({"models/model.pkl": "m2\n"})
    assert cli("record", "--stage", "train", "--out", "models/model.pkl").code == 0
    assert cli("gate", "--policy", "policies/w.yaml").code == 1
    # a tampered cosignature does not count
    assert cli("checkpoint", "--cosign", "--key", "witness").code == 0
    lock = json.loads((project.root / "auditpipe.lock").read_text())
    sig = lock["cosignatures"][0]["signature"]
    lock["cosignatures"][0]["signature"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    (project.root / "auditpipe.lock").write_text(json.dumps(lock))
    assert cli("gate", "--policy", "policies/w.yaml").code == 1
