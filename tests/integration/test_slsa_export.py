"""`auditpipe export slsa`: SLSA provenance v1 for an artifact's whole lineage, that the
`in-toto-attestation` package parses and `cryptography` + DSSE PAE verifies with the
project's committed public key; a lineage that does not verify gets no provenance."""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from securesystemslib.signer import SSlibKey

from tests.conftest import Project, run_auditpipe

PY = shlex.quote(sys.executable)
PIPELINE = f"""\
params: params.yaml
stages:
  clean:
    cmd: {PY} steps/clean.py
    deps: [steps/clean.py, data/raw.csv]
    params: [clean.keep]
    outs: [out/clean.csv]
  fit:
    cmd: {PY} steps/fit.py
    deps: [steps/fit.py, out/clean.csv]
    outs: [out/model.bin]
"""
CLEAN = """\
import pathlib
pathlib.Path('out').mkdir(exist_ok=True)
pathlib.Path('out/clean.csv').write_text(open('data/raw.csv').read().upper())
"""
FIT = """\
import hashlib, pathlib
digest = hashlib.sha256(open('out/clean.csv', 'rb').read()).digest()
pathlib.Path('out/model.bin').write_bytes(digest)
"""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding, written out from the spec."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@pytest.fixture
def pipeline(project: Project) -> Project:
    project.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "params.yaml": "clean:\n  keep: all\n",
            "steps/clean.py": CLEAN,
            "steps/fit.py": FIT,
            ".gitignore": "out/\n",
        }
    )
    project.commit("pipeline")
    result = run_auditpipe(project.root, "run")
    assert result.code == 0, result.err
    return project


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entry_ids(root: Path) -> set[str]:
    return {row["id"] for row in json.loads(run_auditpipe(root, "log", "--json").out)}


def trusted_key_file(root: Path, signature_keyid: str) -> Path:
    """The public key committed under policies/keys/ that a DSSE signature names.

    Files are named by the sha256 of the key's DER; a signature names its key by the
    keyid securesystemslib computes for it (so in-toto tooling matches it unaided)."""
    (path,) = [
        pem
        for pem in sorted((root / "policies" / "keys").glob("*.pem"))
        if SSlibKey.from_crypto(serialization.load_pem_public_key(pem.read_bytes())).keyid
        == signature_keyid
    ]
    return path


def verified_payload(envelope: dict[str, Any], root: Path) -> bytes:
    """Verify the DSSE signature with the public key committed under policies/keys/."""
    payload = base64.b64decode(envelope["payload"])
    (signature,) = envelope["signatures"]
    pem = trusted_key_file(root, signature["keyid"])
    key = serialization.load_pem_public_key(pem.read_bytes())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(
        base64.b64decode(signature["sig"]),
        pae(envelope["payloadType"], payload),
        ec.ECDSA(hashes.SHA256()),
    )
    return payload


def test_export_slsa_writes_signed_provenance_for_the_whole_lineage(
    pipeline: Project, tmp_path: Path
) -> None:
    out = tmp_path / "model.intoto.json"
    model = pipeline.root / "out/model.bin"
    result = run_auditpipe(pipeline.root, "export", "slsa", "out/model.bin", "-o", str(out))
    assert result.code == 0, result.err
    assert sha256(model) in result.err

    envelope = json.loads(out.read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = verified_payload(envelope, pipeline.root)

    # in-toto-attestation parses and validates the statement and its descriptors.
    pb = json_format.Parse(payload, statement_pb2.Statement())
    statement = Statement.copy_from_pb(pb)
    statement.validate()
    assert pb.predicate_type == "https://slsa.dev/provenance/v1"
    assert [(s.name, s.digest["sha256"]) for s in pb.subject] == [("out/model.bin", sha256(model))]
    provenance = json_format.ParseDict(
        json_format.MessageToDict(pb.predicate), provenance_pb2.Provenance()
    )
    definition, details = provenance.build_definition, provenance.run_details
    for rd in [*definition.resolved_dependencies, *details.byproducts]:
        ResourceDescriptor.copy_from_pb(rd).validate()

    assert definition.build_type == "https://auditpipe.dev/slsa/stage-runs/v1"
    stages = json_format.MessageToDict(definition.external_parameters)["stages"]
    assert [s["stage"] for s in stages] == ["clean", "fit"]
    assert stages[0]["params"] == {"clean.keep": "all"}
    assert stages[1]["command"].endswith("steps/fit.py")
    deps = {rd.name: rd.digest["sha256"] for rd in definition.resolved_dependencies if rd.name}
    assert deps["data/raw.csv"] == sha256(pipeline.root / "data/raw.csv")
    assert deps["steps/fit.py"] == sha256(pipeline.root / "steps/fit.py")
    commits = [
        rd.digest["gitCommit"]
        for rd in definition.resolved_dependencies
        if "gitCommit" in rd.digest
    ]
    assert commits == [pipeline.git("rev-parse", "HEAD").strip()]
    assert details.builder.id == "https://auditpipe.dev/builders/local-runner/v1"
    assert {rd.digest["sha256"] for rd in details.byproducts} == entry_ids(pipeline.root)


def test_unsigned_writes_the_statement_itself(pipeline: Project, tmp_path: Path) -> None:
    signed, unsigned = tmp_path / "s.json", tmp_path / "u.json"
    assert (
        run_auditpipe(pipeline.root, "export", "slsa", "out/model.bin", "-o", str(signed)).code == 0
    )
    result = run_auditpipe(
        pipeline.root, "export", "slsa", "out/model.bin", "--unsigned", "-o", str(unsigned)
    )
    assert result.code == 0, result.err
    payload = base64.b64decode(json.loads(signed.read_text())["payload"])
    assert json.loads(unsigned.read_text()) == json.loads(payload)


def test_an_artifact_changed_after_its_run_gets_no_provenance(
    pipeline: Project, tmp_path: Path
) -> None:
    (pipeline.root / "out/model.bin").write_bytes(b"swapped model")
    out = tmp_path / "p.json"
    result = run_auditpipe(pipeline.root, "export", "slsa", "out/model.bin", "-o", str(out))
    assert result.code == 1, result.err
    assert "no signed run" in result.err
    assert not out.exists()


def test_a_lineage_with_a_run_by_an_untrusted_key_gets_no_provenance(
    pipeline: Project, tmp_path: Path
) -> None:
    """Attack: an upstream run re-signed by a key the project does not trust."""
    assert run_auditpipe(pipeline.root, "keys", "generate", "--name", "intruder").code == 0
    (pipeline.root / "data/raw.csv").write_text("a,b\n3,4\n")
    rerun = run_auditpipe(pipeline.root, "run", "--key", "intruder")
    assert rerun.code == 0, rerun.err
    out = tmp_path / "p.json"
    result = run_auditpipe(pipeline.root, "export", "slsa", "out/model.bin", "-o", str(out))
    assert result.code == 1, result.err
    assert "not trusted" in result.err
    assert not out.exists()


def test_bad_input_is_a_clear_error(pipeline: Project, tmp_path: Path) -> None:
    missing = run_auditpipe(pipeline.root, "export", "slsa", "nope.bin", "-o", str(tmp_path / "x"))
    assert missing.code == 2 and "artifact not found" in missing.err
    both = run_auditpipe(
        pipeline.root, "export", "slsa", "out/model.bin", "--unsigned", "--keyless", "-o", "x"
    )
    assert both.code == 2 and "Traceback" not in both.err
    since = run_auditpipe(
        pipeline.root, "export", "openlineage", "--since", "last tuesday", "-o", "x"
    )
    assert since.code == 2 and "ISO 8601" in since.err
