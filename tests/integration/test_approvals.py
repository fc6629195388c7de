"""Four-eyes sign-off on a real repository with three people.

Alice trains the model (her key signs the runs, her e-mail authors the
commits). Bob is a validator, Carol a validator and approver; their keys may
sign approvals only (``policies/people-keys/``), not runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import Project, Result
from tests.integration.test_policy_gate import PIPELINE, STEPS, params

Cli = Callable[..., Result]

CARD = """\
artifacts:
  wine-quality:
    path: models/model.bin
    type: model
    desc: toy model
    meta:
      owner: Alice Ng
      risk_tier: high
      intended_use: tests
      limitations: none known
"""

POLICY = """\
version: 1
name: four-eyes
artifacts: ["models/*.bin"]
rules:
  - trusted_signers
  - gates_passed: {on_missing: allow}  # these stages have no suites
  - approvals: {validator: 1, approver: 1, valid_for: 90d}
"""


def keyid(cli: Cli, name: str) -> str:
    keys = json.loads(cli("keys", "list", "--json").out)
    return next(k["keyid"] for k in keys if k["name"] == name)


@pytest.fixture
def team(project: Project, cli: Cli) -> Project:
    for name in ("bob", "carol"):
        assert cli("keys", "generate", "--name", name).code == 0
        pem = (project.config_dir / "keys" / f"{name}.pub").read_bytes()
        project.gen({f"policies/people-keys/{keyid(cli, name)}.pem": pem})
    people = f"""\
people:
  - name: Alice Ng
    email: author@example.com
    roles: [approver, validator]
    keys: [{keyid(cli, "default")}]
  - name: Bob Roy
    email: bob@example.com
    roles: [validator]
    keys: [{keyid(cli, "bob")}]
  - name: Carol Diaz
    email: carol@example.com
    roles: [validator, approver]
    keys: [{keyid(cli, "carol")}]
"""
    project.gen(
        {
            "auditpipe.yaml": PIPELINE + CARD,
            "params.yaml": params(),
            "policies/four-eyes.yaml": POLICY,
            "policies/people.yaml": people,
            "in/raw.txt": "abc\n",
            "out/.keep": "",
            "models/.keep": "",
            "metrics/.keep": "",
            **STEPS,
        }
    )
    project.commit("pipeline and people")
    result = cli("run")
    assert result.code == 0, result.err
    return project


def gate(cli: Cli) -> tuple[int, dict[str, object]]:
    result = cli("gate", "models/model.bin", "--policy", "policies/four-eyes.yaml", "--json")
    [decision] = json.loads(result.out)
    rule = next(r for r in decision["rules"] if r["rule"].startswith("approvals"))
    return result.code, rule


def approve(cli: Cli, key: str, role: str, *extra: str) -> Result:
    return cli(
        "approve", "models/model.bin", "--role", role, "--key", key,
        "--policy", "policies/four-eyes.yaml", *extra,
    )  # fmt: skip


def entry_of(result: Result) -> str:
    assert result.code == 0, result.err
    return result.out.strip().rsplit(": ", 1)[-1]


def test_no_approvals_denies_gate_and_promote(team: Project, cli: Cli) -> None:
    code, rule = gate(cli)
    assert code == 1
    assert not rule["passed"]
    assert "missing approval by validator, approver" in str(rule["detail"])
    promoted = cli(
        "promote", "models/model.bin", "--to", "production", "--policy", "policies/four-eyes.yaml"
    )
    assert promoted.code == 1
    assert "missing approval by validator, approver" in promoted.out


def test_the_producers_approval_and_one_person_in_two_roles_do_not_count(
    team: Project, cli: Cli
) -> None:
    entry_of(approve(cli, "default", "approver", "--comment", "looks fine to me"))
    entry_of(approve(cli, "carol", "validator"))
    entry_of(approve(cli, "carol", "approver"))
    code, rule = gate(cli)
    detail = str(rule["detail"])
    assert code == 1, detail
    assert "missing approval by approver" in detail
    assert "counted: validator: Carol Diaz <carol@example.com>" in detail
    assert "Alice Ng is an author of this lineage (signed run" in detail
    assert "Carol Diaz already counted as validator on this artifact" in detail


def test_distinct_validator_and_approver_allow_and_promote(team: Project, cli: Cli) -> None:
    entry_of(approve(cli, "bob", "validator", "--ticket", "MRM-7", "--comment", "re-ran tests"))
    entry_of(approve(cli, "carol", "approver"))
    code, rule = gate(cli)
    assert code == 0, rule
    assert rule["detail"] == (
        "validator: Bob Roy <bob@example.com>; approver: Carol Diaz <carol@example.com>"
    )
    promoted = cli(
        "promote", "models/model.bin", "--to", "production", "--policy", "policies/four-eyes.yaml"
    )
    assert promoted.code == 0, promoted.out + promoted.err
    # Signers are shown as people; the registry uses the card's name.
    registry = cli("registry")
    assert "wine-quality (models/model.bin) @ production" in registry.out
    assert "by Alice Ng <author@example.com>" in registry.out
    assert "Alice Ng <author@example.com>" in cli("verify", "models/model.bin").out
    log = cli("log").out
    assert "Bob Roy <bob@example.com>" in log and "Carol Diaz <carol@example.com>" in log


def test_approving_outside_ones_roles_or_with_an_unlisted_key_is_refused(
    team: Project, cli: Cli
) -> None:
    refused = approve(cli, "bob", "approver")
    assert refused.code == 2
    assert "Bob Roy does not hold the role 'approver'" in refused.err
    assert "policies/people.yaml:" in refused.err
    assert cli("keys", "generate", "--name", "mallory").code == 0
    stranger = approve(cli, "mallory", "validator")
    assert stranger.code == 2
    assert "is not listed for anyone in policies/people.yaml" in stranger.err


def test_a_new_run_of_the_lineage_voids_approvals(team: Project, cli: Cli) -> None:
    entry_of(approve(cli, "bob", "validator"))
    entry_of(approve(cli, "carol", "approver"))
    assert gate(cli)[0] == 0
    team.gen({"params.yaml": params(acc=0.97)})  # re-evaluates the same model bytes
    team.commit("new evaluation")
    assert cli("run").code == 0
    code, rule = gate(cli)
    assert code == 1
    assert "the lineage changed since it was approved (new run" in str(rule["detail"])


def test_a_changed_model_card_voids_approvals(team: Project, cli: Cli) -> None:
    entry_of(approve(cli, "bob", "validator"))
    entry_of(approve(cli, "carol", "approver"))
    assert gate(cli)[0] == 0
    text = (team.root / "auditpipe.yaml").read_text()
    team.gen({"auditpipe.yaml": text.replace("none known", "fails on red wine")})
    code, rule = gate(cli)
    assert code == 1
    assert "the model card changed since it was approved" in str(rule["detail"])
    # Editing the card does not force retraining: the card is not in the stage key.
    status = cli("status")
    assert status.code == 0, status.out
    assert "stale" not in status.out and status.out.count("up to date") == 3, status.out


def test_revocation_by_the_approver_voids_it_and_by_anyone_else_is_refused(
    team: Project, cli: Cli
) -> None:
    bobs = entry_of(approve(cli, "bob", "validator"))
    entry_of(approve(cli, "carol", "approver"))
    assert gate(cli)[0] == 0
    by_carol = cli("approve", "--revoke", bobs, "--key", "carol")
    assert by_carol.code == 1
    assert "Carol Diaz cannot revoke an approval signed by Bob Roy" in by_carol.err
    assert gate(cli)[0] == 0
    entry_of(cli("approve", "--revoke", bobs, "--key", "bob", "--comment", "found a leak"))
    code, rule = gate(cli)
    assert code == 1
    assert "revoked by" in str(rule["detail"])


def test_approval_refused_when_the_lineage_does_not_verify(team: Project, cli: Cli) -> None:
    (team.root / "models/model.bin").write_text("tampered")
    refused = approve(cli, "bob", "validator")
    assert refused.code == 1
    assert "its lineage does not verify" in refused.err


def _sign_directly(key: str, predicate_update: dict[str, object], base: str) -> str:
    """Append an approval built by hand (bypassing the CLI's checks), signed with ``key``."""
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.manifest.statement import Subject, build_statement
    from auditpipe.pipeline.recorder import sign_and_append
    from auditpipe.signing.factory import local_signer

    with Ledger.open() as ledger:
        original = ledger.get(base).signed.approval()
        assert original is not None
        predicate = original.model_copy(update=predicate_update)
        subject = Subject(name=original.artifact, digest={"sha256": original.digest.sha256})
        return sign_and_append(ledger, local_signer(key), build_statement([subject], predicate))


def test_forged_approvals_and_revocations_signed_outside_the_cli_do_not_count(
    team: Project, cli: Cli
) -> None:
    bobs = entry_of(approve(cli, "bob", "validator"))
    assert cli("keys", "generate", "--name", "mallory").code == 0
    # Mallory (not a person) signs an approver approval; Carol "revokes" Bob's.
    _sign_directly("mallory", {"role": "approver"}, bobs)
    _sign_directly("carol", {"revokes": bobs}, bobs)
    code, rule = gate(cli)
    detail = str(rule["detail"])
    assert code == 1
    assert "missing approval by approver" in detail
    assert "counted: validator: Bob Roy" in detail  # Carol cannot revoke Bob's
    assert "signature not accepted" in detail


def test_a_failed_cel_rule_shows_the_values_it_compared(team: Project, cli: Cli) -> None:
    team.gen(
        {
            "policies/cel.yaml": "version: 1\nname: cel\nrules:\n"
            '  - cel: {name: enough rows, expr: "stages.evaluate.metrics.rows >= 400"}\n'
        }
    )
    result = cli("gate", "models/model.bin", "--policy", "policies/cel.yaml", "--json")
    assert result.code == 1
    [decision] = json.loads(result.out)
    [rule] = [r for r in decision["rules"] if r["rule"] == "enough rows"]
    assert rule["detail"] == "false: stages.evaluate.metrics.rows = 8"


def test_the_run_that_produces_a_declared_artifact_records_its_card(
    team: Project, cli: Cli
) -> None:
    from auditpipe.pipeline.spec import load_pipeline

    card = load_pipeline(team.root).artifacts["wine-quality"]
    runs = {r["stage"]: r["id"] for r in json.loads(cli("log", "--json").out)}
    train = json.loads(cli("show", runs["train"], "--json").out)["statement"]["predicate"]
    assert train["cards"] == [
        {"name": "wine-quality", "path": "models/model.bin", "sha256": card.sha256}
    ]
    prep = json.loads(cli("show", runs["prep"], "--json").out)["statement"]["predicate"]
    assert "cards" not in prep


def test_expired_approvals_do_not_count(team: Project, cli: Cli) -> None:
    team.gen({"policies/four-eyes.yaml": POLICY.replace("valid_for: 90d", "valid_for: 0d")})
    entry_of(approve(cli, "bob", "validator"))
    entry_of(approve(cli, "carol", "approver"))
    code, rule = gate(cli)
    assert code == 1
    assert "it expired (0 days after" in str(rule["detail"])


def test_a_broken_people_file_is_exit_2_with_file_and_line(team: Project, cli: Cli) -> None:
    people = (team.root / "policies/people.yaml").read_text()
    team.gen({"policies/people.yaml": people.replace("email: bob@example.com", "email: bob")})
    result = cli("gate", "models/model.bin", "--policy", "policies/four-eyes.yaml")
    assert result.code == 2
    assert "policies/people.yaml:7: 'bob' is not an e-mail address" in result.err
    assert "Traceback" not in result.err


def test_keyless_approvals_count_for_the_person_whose_identity_it_is(
    team: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.sigstore_fake import FakeSigstore

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("AUDITPIPE_IDENTITY_TOKEN", raising=False)
    issuer = "https://oidc.example.com"
    with FakeSigstore() as fake:
        fake.write_trust_config(team.root / "policies/sigstore-trust.json")
        people = (team.root / "policies/people.yaml").read_text()
        team.gen(
            {
                "policies/people.yaml": people
                + "  - name: Dana Kim\n    email: dana@example.com\n    roles: [approver]\n"
                f"    identities: [{{identity: dana@example.com, issuer: {issuer}}}]\n"
            }
        )
        entry_of(approve(cli, "bob", "validator"))
        keyless = ("--signer", "sigstore", "--identity-token")
        # Someone with a valid certificate who is not in people.yaml does not count.
        entry_of(
            approve(cli, "default", "approver", *keyless, fake.email_token("eve@x.io", issuer))
        )
        code, rule = gate(cli)
        assert code == 1
        assert "not counted: eve@x.io via https://oidc.example.com as approver" in str(
            rule["detail"]
        )
        entry_of(
            approve(
                cli, "default", "approver", *keyless, fake.email_token("dana@example.com", issuer)
            )
        )
        code, rule = gate(cli)
        assert code == 0, rule
        assert "approver: Dana Kim <dana@example.com>" in str(rule["detail"])
