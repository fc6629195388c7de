"""`export slsa --keyless`: signed by sigstore only on request, and the CI workflow that
signed every run on the chain is the provenance's builder."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

from auditpipe.signing.bundle import parse_bundle
from auditpipe.signing.factory import verifier_for
from auditpipe.trust.read import open_trust
from auditpipe.workspace import Workspace
from tests.conftest import Project, Result
from tests.integration import test_sigstore_keyless as keyless_setup
from tests.integration.test_slsa_export import trusted_key_file
from tests.sigstore_fake import FakeSigstore

Cli = Callable[..., Result]
WORKFLOW = keyless_setup.WORKFLOW
fake = keyless_setup.fake  # the fixtures: an in-process sigstore, a project trusting CI
keyless = keyless_setup.keyless


def test_keyless_export_is_a_sigstore_bundle_naming_the_ci_builder(
    keyless: Project, cli: Cli, tmp_path: Path
) -> None:
    recorded = cli(
        "record", "--stage", "train", "--out", "models/model.pkl", "--signer", "sigstore"
    )
    assert recorded.code == 0, recorded.err
    out = tmp_path / "model.sigstore.json"
    result = cli("export", "slsa", "models/model.pkl", "--keyless", "-o", str(out))
    assert result.code == 0, result.err

    bundle = parse_bundle(out.read_bytes())
    assert bundle.is_keyless
    signer = verifier_for(open_trust(Workspace.discover(keyless.root), None)).verify(bundle)
    assert signer.identity == WORKFLOW
    statement = json.loads(bundle.payload)
    assert statement["predicate"]["runDetails"]["builder"]["id"] == WORKFLOW


def test_without_keyless_the_local_key_signs_even_in_a_keyless_project(
    keyless: Project,
    cli: Cli,
    tmp_path: Path,
    fake: FakeSigstore,
) -> None:
    keyless.gen({"auditpipe.yaml": "signer: sigstore\nstages: {}\n"})
    recorded = cli("record", "--stage", "train", "--out", "models/model.pkl")
    assert recorded.code == 0, recorded.err
    logged = len(fake.log.leaves)
    assert logged == 1  # the run itself was signed keyless, as the project says
    out = tmp_path / "model.intoto.json"
    result = cli("export", "slsa", "models/model.pkl", "-o", str(out))
    assert result.code == 0, result.err
    assert len(fake.log.leaves) == logged  # nothing published for the export
    envelope = json.loads(out.read_text())
    (signature,) = envelope["signatures"]
    assert trusted_key_file(keyless.root, signature["keyid"]).is_file()  # a committed key
    assert (
        json.loads(base64.b64decode(envelope["payload"]))["subject"][0]["name"]
        == "models/model.pkl"
    )
