"""`--trust-ref`: keys, identities and policies read from a revision's git objects.

With a trust ref, nothing the working tree holds is trusted: a key the change
added is unknown, a key it deleted is still known, a policy it loosened is read
as committed. Bad refs are exit 2 naming the ref and what to do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result

Cli = Callable[..., Result]


@pytest.fixture
def recorded(project: Project, cli: Cli) -> str:
    """One run, signed by the key ``auditpipe init`` trusted and committed."""
    project.gen({"models/model.pkl": b"weights\n"})
    result = cli("record", "--stage", "train", "--dep", "src/train.py", "--out", "models/model.pkl")
    assert result.code == 0, result.err
    project.commit("model")
    return result.out.strip()


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.out + result.err


@pytest.mark.parametrize(
    "command",
    [
        ("gate", "--policy", "policies/default.yaml"),
        ("verify", "models/model.pkl"),
        ("verify", "--ledger"),
        ("promote", "models/model.pkl", "--to", "prod", "--policy", "policies/default.yaml"),
        ("report", "models/model.pkl", "-o", "r.pdf"),
        ("ledger", "pull"),
        ("ledger", "push"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_trust_ref_that_does_not_exist(recorded: str, cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command, "--trust-ref", "origin/nope")
    assert result.code == 2, result.out + result.err
    assert "trust ref 'origin/nope' does not exist in this repository" in result.err
    assert "git fetch" in result.err
    no_traceback(result)


def test_the_environment_variable_names_a_missing_ref(
    recorded: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITPIPE_TRUST_REF", "origin/gone")
    result = cli("verify", "--ledger")
    assert result.code == 2
    assert "'origin/gone' does not exist" in result.err and "AUDITPIPE_TRUST_REF" in result.err


def test_a_trust_ref_without_policies(recorded: str, project: Project, cli: Cli) -> None:
    # The repository's first commit predates `auditpipe init`.
    first = project.git("rev-list", "--max-parents=0", "HEAD").strip()
    result = cli("gate", "--policy", "policies/default.yaml", "--trust-ref", first)
    assert result.code == 2, result.out + result.err
    assert f"trust ref {first} (commit {first[:12]}) has no policies/ directory" in result.err
    assert "merge" in result.err
    no_traceback(result)


def test_a_policy_the_trust_ref_does_not_have(recorded: str, project: Project, cli: Cli) -> None:
    project.gen({"policies/new.yaml": (project.root / "policies/default.yaml").read_text()})
    result = cli("gate", "--policy", "policies/new.yaml", "--trust-ref", "HEAD")
    assert result.code == 2, result.out + result.err
    assert "HEAD:policies/new.yaml" in result.err and "not in trust ref HEAD" in result.err
    no_traceback(result)
    # The same file is read from the working tree when no trust ref is given.
    assert cli("gate", "--policy", "policies/new.yaml").code == 0


def test_a_malformed_key_at_the_trust_ref(recorded: str, project: Project, cli: Cli) -> None:
    project.gen({"policies/keys/broken.pem": "not a key\n"})
    project.commit("broken key")
    result = cli("verify", "--ledger", "--trust-ref", "HEAD")
    assert result.code == 2
    assert "HEAD:policies/keys/broken.pem: not a PEM public key" in result.err
    no_traceback(result)


def test_the_working_tree_is_invisible_with_a_trust_ref(
    recorded: str, project: Project, cli: Cli, tmp_path: Path
) -> None:
    # A new key trusted only in the working tree, and a run signed with it.
    generated = json.loads(cli("keys", "generate", "--name", "new", "--json").out)
    exported = tmp_path / "new.pub"
    assert cli("keys", "export", "--name", "new", "-o", str(exported)).code == 0
    assert cli("keys", "trust", str(exported)).code == 0
    project.gen({"notes.txt": "n\n"})
    second = cli("record", "--stage", "notes", "--key", "new", "--out", "notes.txt").out.strip()
    # ...and the committed key deleted from the working tree.
    [committed] = [p for p in (project.root / "policies/keys").glob("*.pem")
                   if p.stem != generated["keyid"]]  # fmt: skip
    committed.unlink()

    by_tree = json.loads(cli("verify", "--ledger", "--json").out)
    assert [u["entry"] for u in by_tree["untrusted"]] == [recorded]
    assert by_tree["trust"] == {"source": "working tree", "ref": None, "commit": None}

    by_ref = json.loads(cli("verify", "--ledger", "--json", "--trust-ref", "HEAD").out)
    assert [u["entry"] for u in by_ref["untrusted"]] == [second]
    head = project.git("rev-parse", "HEAD").strip()
    assert by_ref["trust"] == {
        "source": f"ref HEAD (commit {head[:12]})",
        "ref": "HEAD",
        "commit": head,
    }
    assert by_ref["signers"] == {committed.stem: 1}


def test_text_output_says_where_trust_came_from(recorded: str, project: Project, cli: Cli) -> None:
    tree = cli("verify", "--ledger")
    assert tree.code == 0
    assert "trust from the working tree (no --trust-ref)" in tree.out
    assert "warning: trust from the working tree" in tree.err
    ref = cli("verify", "--ledger", "--trust-ref", "HEAD")
    assert ref.code == 0
    assert "trust from ref HEAD (commit " in ref.out and "warning" not in ref.err
    markdown = project.root / "gate.md"
    gate = cli(
        "gate",
        "--policy",
        "policies/default.yaml",
        "--trust-ref",
        "HEAD",
        "--markdown",
        str(markdown),
    )
    assert gate.code == 0, gate.out + gate.err
    head = project.git("rev-parse", "HEAD").strip()
    assert f"Trust from `HEAD` (commit `{head}`)." in markdown.read_text()
    cli("gate", "--policy", "policies/default.yaml", "--markdown", str(markdown))
    assert "Trust from the **working tree**" in markdown.read_text()


def test_a_policy_loosened_in_the_working_tree_is_not_read(
    recorded: str, project: Project, cli: Cli
) -> None:
    """The ref's policy decides: here the committed one requires a stage the tree's drops."""
    policy = project.root / "policies/default.yaml"
    strict = policy.read_text().replace("rules:\n", "require:\n  stages: [evaluate]\nrules:\n")
    policy.write_text(strict)
    project.commit("require evaluation")
    policy.write_text(strict.replace("require:\n  stages: [evaluate]\n", ""))
    assert cli("gate", "--policy", "policies/default.yaml").code == 0  # the tree's policy
    denied = cli("gate", "--policy", "policies/default.yaml", "--trust-ref", "HEAD")
    assert denied.code == 1, denied.out + denied.err
    assert "evaluate" in denied.out


def test_promote_records_the_digest_of_the_policy_that_decided(
    recorded: str, project: Project, cli: Cli
) -> None:
    committed = project.git("show", "HEAD:policies/default.yaml").encode()
    policy = project.root / "policies/default.yaml"
    policy.write_text(policy.read_text() + "# edited in the working tree\n")
    promoted = cli(
        "promote", "models/model.pkl", "--to", "prod", "--policy", "policies/default.yaml",
        "--trust-ref", "HEAD",
    )  # fmt: skip
    assert promoted.code == 0, promoted.out + promoted.err
    assert "trust from ref HEAD (commit " in promoted.out
    entry = promoted.out.strip().split()[-1]
    statement = json.loads(cli("show", entry, "--json").out)["statement"]
    assert statement["predicate"]["policy"]["sha256"] == hashlib.sha256(committed).hexdigest()


def test_the_report_says_where_trust_came_from(recorded: str, project: Project, cli: Cli) -> None:
    html = project.root / "r.html"
    result = cli(
        "report", "models/model.pkl", "--policy", "policies/default.yaml", "--trust-ref", "HEAD",
        "-o", str(project.root / "r.pdf"), "--html", str(html),
    )  # fmt: skip
    assert result.code == 0, result.err
    head = project.git("rev-parse", "HEAD").strip()
    assert f"HEAD, commit {head}: keys and policy as committed there" in html.read_text()
    assert f"trust from ref HEAD (commit {head[:12]})" in result.out


def test_an_untrusted_run_is_no_evidence_even_without_a_trusted_signers_rule(
    recorded: str, project: Project, cli: Cli
) -> None:
    policy = (project.root / "policies/default.yaml").read_text()
    loose = policy.replace("  - trusted_signers", "").replace("name: default", "name: loose")
    assert loose != policy
    project.gen({"policies/loose.yaml": loose})
    project.commit("a policy without trusted_signers")
    assert cli("keys", "generate", "--name", "other").code == 0
    project.gen({"models/other.pkl": b"other\n"})
    made = cli("record", "--stage", "train", "--key", "other", "--out", "models/other.pkl")
    assert made.code == 0, made.err
    args = ("gate", "--policy", "policies/loose.yaml", "--trust-ref", "HEAD")
    assert cli(*args, "models/model.pkl").code == 0  # control: the trusted run counts
    denied = cli(*args, "models/other.pkl")
    assert denied.code == 1, denied.out
    assert "✗ lineage is intact" in denied.out and "untrusted signer: key" in denied.out


def test_a_policy_path_through_a_file_at_the_trust_ref(
    recorded: str, project: Project, cli: Cli
) -> None:
    """A path under a file of the ref (not a directory) is absent, not a crash."""
    project.gen({"policies/README": "x\n"})
    project.commit("readme")
    result = cli("gate", "--policy", "policies/README/x.yaml", "--trust-ref", "HEAD")
    assert result.code == 2, result.out + result.err
    assert "HEAD:policies/README/x.yaml" in result.err
    no_traceback(result)
