"""Keyless (sigstore) entries through the CLI: record, run, log, verify, gate.

The project pins its sigstore instance in ``policies/sigstore-trust.json``: the
in-process fake of Fulcio / Rekor (``tests.sigstore_fake``), so the real
sigstore-python code signs and verifies offline. The stock ``sigstore verify``
CLI is run on an entry auditpipe wrote.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.canonical import canonical_bytes, is_canonical
from auditpipe.signing.identities import GITHUB_ISSUER
from auditpipe.workspace import Workspace
from tests.conftest import Project, Result, git
from tests.sigstore_fake import FakeSigstore

Cli = Callable[..., Result]
WORKFLOW = "https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main"
TRUSTED_CI = f"""\
identities:
  - identity: {WORKFLOW}
    issuer: {GITHUB_ISSUER}
    repository: acme/models
    ref: refs/heads/main
"""
AMBIENT = ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSigstore]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in (*AMBIENT, "GITLAB_CI", "BUILDKITE", "CIRCLECI", "AUDITPIPE_IDENTITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with FakeSigstore() as service:
        yield service


@pytest.fixture
def keyless(project: Project, fake: FakeSigstore, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An initialized project that trusts its key and the CI workflow's identity."""
    fake.write_trust_config(project.root / "policies/sigstore-trust.json")
    project.gen({"policies/identities.yaml": TRUSTED_CI, "models/model.pkl": b"weights\x00"})
    project.commit("trust CI")
    monkeypatch.setenv("AUDITPIPE_IDENTITY_TOKEN", fake.github_token())
    return project


def trusting(identity: str, issuer: str, *extra: str) -> str:
    """An identities.yaml trusting one identity."""
    fields = ", ".join([f"identity: {identity}", f"issuer: {issuer}", *extra])
    return f"identities:\n  - {{{fields}}}\n"


def record(cli: Cli, *extra: str, stage: str = "train") -> Result:
    return cli("record", "--stage", stage, "--out", "models/model.pkl", "--param", "lr=0.1", *extra)


def ledger_bundle(project: Project, entry_id: str) -> bytes:
    with Ledger(Workspace.discover(project.root)) as ledger:
        return ledger.get(entry_id).bundle.raw


def test_keyless_entry_verifies_when_its_identity_is_trusted(keyless: Project, cli: Cli) -> None:
    result = record(cli, "--signer", "sigstore")
    assert result.code == 0, result.err
    entry_id = result.out.strip()

    raw = ledger_bundle(keyless, entry_id)
    document = json.loads(raw)
    payload = base64.b64decode(document["dsseEnvelope"]["payload"])
    assert is_canonical(payload)  # the exact RFC 8785 bytes auditpipe made are what was signed
    assert document["verificationMaterial"]["certificate"]["rawBytes"]
    assert len(document["verificationMaterial"]["tlogEntries"]) == 1

    verified = cli("verify", "--ledger", "--json")
    assert verified.code == 0, verified.out
    assert json.loads(verified.out)["signers"] == {WORKFLOW: 1}
    assert cli("verify", "--ledger").code == 0

    log = cli("log")
    assert f"sigstore {WORKFLOW}" in log.out
    rows = json.loads(cli("log", "--json").out)
    assert (rows[0]["signer"], rows[0]["signerKind"]) == (WORKFLOW, "sigstore")


@pytest.mark.parametrize(
    "trusted",
    [
        trusting(WORKFLOW.replace("train", "deploy"), GITHUB_ISSUER),
        trusting(WORKFLOW, "https://gitlab.com"),
        trusting(WORKFLOW, GITHUB_ISSUER, "repository: acme/fork"),
        "identities: []\n",
    ],
    ids=["other-identity", "other-issuer", "other-repository", "none"],
)
def test_keyless_entry_is_untrusted_when_another_identity_is_trusted(
    keyless: Project, cli: Cli, trusted: str
) -> None:
    """Listed as untrusted (valid history, no evidence), never a ledger failure."""
    entry_id = record(cli, "--signer", "sigstore").out.strip()
    keyless.gen({"policies/identities.yaml": trusted})
    result = cli("verify", "--ledger")
    assert result.code == 0, result.err
    assert f"untrusted: {entry_id}" in result.out
    assert f"{WORKFLOW} via {GITHUB_ISSUER}" in result.out
    assert "not a trusted identity" in result.out or "no sigstore identity is trusted" in result.out
    report = json.loads(cli("verify", "--ledger", "--json").out)
    assert report["signers"] == {}
    assert [(u["entry"], u["signer"]) for u in report["untrusted"]] == [
        (entry_id, f"{WORKFLOW} via {GITHUB_ISSUER}")
    ]


def _append_raw(project: Project, raw: bytes) -> str:
    with Ledger(Workspace.discover(project.root)) as ledger:
        return ledger.append(raw)


def test_tampered_payload_fails(keyless: Project, cli: Cli) -> None:
    """A different (canonical, well-formed) statement under the original signature."""
    entry_id = record(cli, "--signer", "sigstore").out.strip()
    document = json.loads(ledger_bundle(keyless, entry_id))
    payload = base64.b64decode(document["dsseEnvelope"]["payload"])
    forged = payload.replace(b'"lr":0.1', b'"lr":0.2')
    assert forged != payload and is_canonical(forged)
    document["dsseEnvelope"]["payload"] = base64.b64encode(forged).decode()
    forged_id = _append_raw(keyless, canonical_bytes(document))

    result = cli("verify", "--ledger")
    assert result.code == 1
    assert f"entry {forged_id}: keyless signature by {WORKFLOW}" in result.err
    assert "does not verify" in result.err
    assert entry_id not in result.err  # the genuine entry still verifies


@pytest.mark.parametrize("how", ["stripped", "swapped"])
def test_bundle_without_its_own_log_entry_fails(keyless: Project, cli: Cli, how: str) -> None:
    first = record(cli, "--signer", "sigstore").out.strip()
    second = record(cli, "--signer", "sigstore", stage="evaluate").out.strip()
    document = json.loads(ledger_bundle(keyless, second))
    other = json.loads(ledger_bundle(keyless, first))["verificationMaterial"]["tlogEntries"]
    document["verificationMaterial"]["tlogEntries"] = [] if how == "stripped" else other
    document["dsseEnvelope"]["payload"] = base64.b64encode(
        base64.b64decode(document["dsseEnvelope"]["payload"]).replace(b"evaluate", b"evaluat3")
    ).decode()  # a new id, so the altered bundle is a new entry beside the genuine ones
    altered = _append_raw(keyless, canonical_bytes(document))

    result = cli("verify", "--ledger", "--json")
    assert result.code == 1
    problems = json.loads(result.out)["problems"]
    assert [p["entry"] for p in problems] == [altered]
    expected = "log entry" if how == "stripped" else "does not verify"
    assert expected in problems[0]["message"] and WORKFLOW in problems[0]["message"]


def test_stock_sigstore_cli_accepts_an_entry_auditpipe_wrote(keyless: Project, cli: Cli) -> None:
    entry_id = record(cli, "--signer", "sigstore").out.strip()
    bundle = keyless.root.parent / "entry.sigstore.json"
    bundle.write_bytes(ledger_bundle(keyless, entry_id))
    payload = base64.b64decode(json.loads(bundle.read_bytes())["dsseEnvelope"]["payload"])

    def stock(identity: str) -> subprocess.CompletedProcess[str]:
        # --trust-config is a global option; the artifact is the DSSE subject to match.
        command = "--trust-config policies/sigstore-trust.json verify identity --offline"
        checks = ["--cert-identity", identity, "--cert-oidc-issuer", GITHUB_ISSUER]
        target = ["--bundle", str(bundle), "models/model.pkl"]
        return subprocess.run(
            [sys.executable, "-m", "sigstore", *command.split(), *checks, *target],
            cwd=keyless.root,
            capture_output=True,
            text=True,
            env={**os.environ, "NO_PROXY": "127.0.0.1"},
        )

    accepted = stock(WORKFLOW)
    assert accepted.returncode == 0, accepted.stderr
    assert "OK: models/model.pkl" in accepted.stderr
    assert accepted.stdout.strip().encode() == payload  # it prints the verified statement
    rejected = stock(WORKFLOW.replace("train", "deploy"))
    assert rejected.returncode != 0


PIPELINE = """\
signer: sigstore
stages:
  prep:
    cmd: python3 -c "open('out/prep.txt', 'w').write(open('in/raw.txt').read().upper())"
    deps: [in/raw.txt]
    outs: [out/prep.txt]
  train:
    cmd: python3 -c "open('models/model.bin', 'w').write(open('out/prep.txt').read() * 2)"
    deps: [out/prep.txt]
    outs: [models/model.bin]
"""


def policy(trust: str) -> str:
    return (
        f"version: 1\nname: signers\nartifacts: [models/model.bin]\n{trust}"
        "require:\n  stages: [prep, train]\nrules:\n  - trusted_signers\n"
    )


@pytest.fixture
def mixed(keyless: Project, cli: Cli) -> Project:
    """prep signed with the local key, train keyless (the pipeline's `signer: sigstore`)."""
    keyid = next((keyless.root / "policies/keys").glob("*.pem")).stem
    keyless.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "in/raw.txt": "abc\n",
            "out/.keep": "",
            "policies/project.yaml": policy(""),
            "policies/key-only.yaml": policy(f"trust:\n  keys: [{keyid}]\n"),
            "policies/ci-only.yaml": policy(
                f"trust:\n  identities:\n    - {{identity: {WORKFLOW}, issuer: {GITHUB_ISSUER}}}\n"
            ),
        }
    )
    keyless.commit("pipeline")
    assert cli("run", "prep", "--signer", "local").code == 0
    result = cli("run")
    assert result.code == 0, result.err
    return keyless


def gate(cli: Cli, name: str) -> tuple[int, dict[str, object]]:
    result = cli("gate", "--policy", f"policies/{name}.yaml", "--json")
    rules = {r["rule"]: r for r in json.loads(result.out)[0]["rules"]}
    return result.code, rules["trusted_signers"]


def test_mixed_ledger_verifies_and_gate_trusts_per_signer(mixed: Project, cli: Cli) -> None:
    keyid = next((mixed.root / "policies/keys").glob("*.pem")).stem
    verified = cli("verify", "--ledger", "--json")
    assert verified.code == 0, verified.out
    assert json.loads(verified.out)["signers"] == {keyid: 1, WORKFLOW: 1}
    log = cli("log").out.splitlines()
    assert f"sigstore {WORKFLOW}" in log[0] and "train" in log[0]
    assert f"key {keyid[:12]}" in log[1] and "prep" in log[1]

    code, rule = gate(cli, "project")  # names no signer: the project's keys and identities
    assert code == 0 and rule["passed"], rule

    code, rule = gate(cli, "key-only")
    assert code == 1 and not rule["passed"]
    assert "train" in str(rule["detail"]) and "prep" not in str(rule["detail"])
    assert "no sigstore identity is trusted" in str(rule["detail"])

    code, rule = gate(cli, "ci-only")
    assert code == 1 and not rule["passed"]
    assert "prep" in str(rule["detail"]) and "train" not in str(rule["detail"])
    assert f"key {keyid}" in str(rule["detail"])


def test_record_auto_signs_keyless_only_with_a_credential(
    keyless: Project, cli: Cli, fake: FakeSigstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDITPIPE_IDENTITY_TOKEN")
    assert record(cli, "--signer", "auto").code == 0  # no credential: the local key
    for name, value in fake.github_actions_env().items():  # GitHub Actions, id-token: write
        monkeypatch.setenv(name, value)
    assert record(cli, "--signer", "auto", stage="evaluate").code == 0
    assert fake.ambient_tokens_issued == 1
    kinds = [row["signerKind"] for row in json.loads(cli("log", "--json").out)]
    assert kinds == ["sigstore", "key"]
    assert cli("verify", "--ledger").code == 0


def test_keyless_errors_exit_2_and_write_nothing(
    keyless: Project, cli: Cli, fake: FakeSigstore, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = git(keyless.root, "rev-parse", "auditpipe/ledger")

    monkeypatch.delenv("AUDITPIPE_IDENTITY_TOKEN")
    missing = record(cli, "--signer", "sigstore")
    assert missing.code == 2
    assert "no OIDC identity token" in missing.err and "id-token: write" in missing.err

    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # but the workflow lacks id-token: write
    denied = record(cli, "--signer", "sigstore")
    assert denied.code == 2
    assert "did not grant" in denied.err and "id-token: write" in denied.err
    monkeypatch.delenv("GITHUB_ACTIONS")

    expired = record(
        cli, "--signer", "sigstore", "--identity-token", fake.github_token(issued_ago=600)
    )
    assert expired.code == 2 and "expired" in expired.err

    local = record(cli, "--signer", "local", "--identity-token", fake.github_token())
    assert local.code == 2 and "--signer sigstore" in local.err

    fake.stop()
    down = record(cli, "--signer", "sigstore", "--identity-token", fake.github_token())
    assert down.code == 2 and "cannot reach the sigstore service" in down.err

    assert "Traceback" not in missing.err + denied.err + expired.err + local.err + down.err
    assert git(keyless.root, "rev-parse", "auditpipe/ledger") == head


PUBLIC = os.environ.get("AUDITPIPE_TEST_SIGSTORE_PUBLIC") == "1" and bool(
    # GitHub Actions with `id-token: write`, or a real token given explicitly
    os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL") or os.environ.get("AUDITPIPE_IDENTITY_TOKEN")
)


@pytest.mark.sigstore_public
@pytest.mark.skipif(
    not PUBLIC,
    reason="signs with the public sigstore instance: set AUDITPIPE_TEST_SIGSTORE_PUBLIC=1 where "
    "an OIDC credential exists (GitHub Actions with `id-token: write`)",
)
def test_public_instance_round_trip(project: Project, cli: Cli) -> None:
    """The real Fulcio and Rekor: sign keyless, then verify offline with the shipped root."""
    from auditpipe.signing.factory import signer_for
    from auditpipe.signing.identities import TrustedIdentity
    from auditpipe.signing.sigstore_verify import SigstoreVerifier, tlog_summary

    signer = signer_for(Workspace.discover(project.root), signer="sigstore")
    who = signer.identity
    assert who.identity and who.issuer
    project.gen(
        {"policies/identities.yaml": trusting(who.identity, who.issuer), "models/model.pkl": "w"}
    )
    entry_id = record(cli, "--signer", "sigstore").out.strip()
    assert cli("verify", "--ledger").code == 0
    with Ledger(Workspace.discover(project.root)) as ledger:
        bundle = ledger.get(entry_id).bundle
    assert SigstoreVerifier([TrustedIdentity(who.identity, who.issuer)]).verify(bundle) == who
    summary = tlog_summary(bundle)
    assert summary is not None and summary["url"].startswith("https://search.sigstore.dev/")


def test_report_shows_the_keyless_identity_and_its_log_entry(
    mixed: Project, cli: Cli, tmp_path: Path
) -> None:
    import auditpipe.cli.report_cmds  # noqa: F401  (registers `report`)

    pdf = tmp_path / "report.pdf"
    result = cli("report", "models/model.bin", "-o", str(pdf))
    assert result.code == 0, result.err
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert WORKFLOW in "".join(text.split())  # the keyless identity, however it wrapped
    assert "transparency log: Rekor log index" in flat
