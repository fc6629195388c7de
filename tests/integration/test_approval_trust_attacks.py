"""Attacks on four-eyes approvals by a writer of the repository, scripted like CI.

A real bare remote and three parties: the maintainers' clone (the producer
Alice, whose trusted key records the model, and the validator Bob and the
approver Carol, whose keys main lists in ``policies/people.yaml`` and
``policies/people-keys/``); the producer again as attacker, in a clone of her
own with a new key of her own; and CI, a fresh `git clone` with no
``.git/auditpipe`` state and no keys, which runs `ledger pull origin` then
`gate --trust-ref origin/main`. Every entry is signed by a key main trusts,
except the attacker's approval: only who may approve is under attack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Project, Result, git
from tests.integration.test_policy_gate import PIPELINE, STEPS, params

Cli = Callable[..., Result]
MODEL = "models/model.bin"
POLICY_PATH = "policies/four-eyes.yaml"
POLICY = """\
version: 1
name: four-eyes
artifacts: ["models/*.bin"]
rules:
  - trusted_signers
  - gates_passed: {on_missing: allow}  # these stages have no suites
  - approvals: {validator: 1, approver: 1}
"""


@dataclass
class World:
    """The shared remote, and how to run auditpipe as one of the parties."""

    url: str
    tmp: Path
    maintainers: Project
    run_as: Callable[[Path, Path, tuple[str, ...]], Result]

    def run(self, root: Path, *args: str, keys: Path | None = None) -> Result:
        return self.run_as(root, keys or self.tmp / "no-keys", args)

    def clone(self, name: str, branch: str = "main") -> Path:
        """A fresh `git clone` (no ledger, no auditpipe state), as actions/checkout makes."""
        git(self.tmp, "clone", "-q", "-b", branch, self.url, name)
        root = self.tmp / name
        assert not (root / ".git" / "auditpipe").exists()
        return root

    def approve(self, root: Path, key: str, role: str, keys: Path | None = None) -> str:
        result = self.run(
            root, "approve", MODEL, "--role", role, "--key", key, "--policy", POLICY_PATH,
            keys=keys or self.maintainers.config_dir,
        )  # fmt: skip
        assert result.code == 0, result.out + result.err
        return result.out.strip().rsplit(": ", 1)[-1]


def keyid_of(world: World, root: Path, keys: Path, name: str) -> str:
    listed = json.loads(world.run(root, "keys", "list", "--json", keys=keys).out)
    return str(next(k["keyid"] for k in listed if k["name"] == name))


def person(name: str, email: str, roles: str, keyid: str) -> str:
    return f"  - name: {name}\n    email: {email}\n    roles: [{roles}]\n    keys: [{keyid}]\n"


@pytest.fixture
def world(project: Project, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """main: the people, their keys and the policy; Alice's pipeline run; all pushed."""
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", bare.name)
    git(bare, "config", "receive.denyNonFastForwards", "true")

    def run_as(root: Path, keys: Path, args: tuple[str, ...]) -> Result:
        monkeypatch.chdir(root)
        monkeypatch.setenv("AUDITPIPE_CONFIG_DIR", str(keys))
        return cli(*args)

    world = World(str(bare), tmp_path, project, run_as)
    own = project.config_dir
    for name in ("bob", "carol"):
        assert world.run(project.root, "keys", "generate", "--name", name, keys=own).code == 0
        pem = (own / "keys" / f"{name}.pub").read_bytes()
        keyid = keyid_of(world, project.root, own, name)
        project.gen({f"policies/people-keys/{keyid}.pem": pem})
    people = "people:\n" + "".join(
        [
            person("Alice Ng", "author@example.com", "data-scientist",
                   keyid_of(world, project.root, own, "default")),
            person("Bob Roy", "bob@example.com", "validator",
                   keyid_of(world, project.root, own, "bob")),
            person("Carol Diaz", "carol@example.com", "approver",
                   keyid_of(world, project.root, own, "carol")),
        ]
    )  # fmt: skip
    project.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "params.yaml": params(),
            POLICY_PATH: POLICY,
            "policies/people.yaml": people,
            "in/raw.txt": "abc\n",
            "out/.keep": "",
            "models/.keep": "",
            "metrics/.keep": "",
            **STEPS,
        }
    )
    project.commit("pipeline and people")
    ran = world.run(project.root, "run", keys=own)  # signed by Alice's trusted key
    assert ran.code == 0, ran.out + ran.err
    project.commit("model")
    assert (project.root / MODEL).exists()
    assert MODEL in project.git("ls-files", MODEL)
    project.git("remote", "add", "origin", world.url)
    project.git("push", "-q", "origin", "main")
    pushed = world.run(project.root, "ledger", "push", keys=own)
    assert pushed.code == 0, pushed.out + pushed.err
    return world


def ci(world: World, branch: str) -> Path:
    """The CI steps before the gate: a fresh clone of the branch, the ledger pulled."""
    root = world.clone(f"ci-{branch}", branch)
    pulled = world.run(root, "ledger", "pull", "origin")
    assert pulled.code == 0, pulled.out + pulled.err
    return root


def gate(world: World, root: Path, *trust: str) -> tuple[Result, dict[str, object]]:
    """The gate's text result, and its approvals rule as `--json` reports it."""
    text = world.run(root, "gate", "--policy", POLICY_PATH, *trust)
    as_json = world.run(root, "gate", "--policy", POLICY_PATH, *trust, "--json")
    assert as_json.code == text.code, as_json.out + as_json.err
    [decision] = json.loads(as_json.out)
    [rule] = [r for r in decision["rules"] if str(r["rule"]).startswith("approvals")]
    return text, rule


def test_control_distinct_validator_and_approver_from_main_are_allowed(world: World) -> None:
    maintainers = world.maintainers
    world.approve(maintainers.root, "bob", "validator")
    world.approve(maintainers.root, "carol", "approver")
    assert world.run(maintainers.root, "ledger", "push", keys=maintainers.config_dir).code == 0

    result, rule = gate(world, ci(world, "main"), "--trust-ref", "origin/main")
    assert result.code == 0, result.out + result.err
    assert "ALLOW" in result.out
    assert "trust from ref origin/main (commit " in result.out
    assert rule["passed"] is True
    assert rule["detail"] == (
        "validator: Bob Roy <bob@example.com>; approver: Carol Diaz <carol@example.com>"
    )


SOCK_PUPPET = "sock puppet"
IMPERSONATION = "impersonation"


@pytest.mark.parametrize("how", [SOCK_PUPPET, IMPERSONATION])
def test_a_pr_that_lists_its_own_approver_does_not_count_at_the_trust_ref(
    world: World, how: str
) -> None:
    """Bob validated; Carol never approved. Alice, the producer, opens a PR that
    makes a second key of hers an approver, either as a new person (a sock
    puppet) or in place of Carol's key (so the approval reads as Carol's),
    commits the PEM under policies/people-keys/, approves with it and pushes."""
    maintainers = world.maintainers
    world.approve(maintainers.root, "bob", "validator")
    assert world.run(maintainers.root, "ledger", "push", keys=maintainers.config_dir).code == 0

    root = world.clone("attacker")
    keys = world.tmp / "attacker-keys"
    assert world.run(root, "ledger", "pull", "origin", keys=keys).code == 0
    git(root, "checkout", "-q", "-b", "pr")
    generated = world.run(root, "keys", "generate", "--name", "mallory", "--json", keys=keys)
    assert generated.code == 0, generated.err
    keyid = json.loads(generated.out)["keyid"]
    (root / "policies" / "people-keys" / f"{keyid}.pem").write_bytes(
        (keys / "keys" / "mallory.pub").read_bytes()
    )
    people_file = root / "policies" / "people.yaml"
    people = people_file.read_text()
    if how == SOCK_PUPPET:
        edited = people + person("Mallory Fox", "mallory@example.com", "approver", keyid)
        shown = "Mallory Fox <mallory@example.com>"
    else:
        carols = keyid_of(world, maintainers.root, maintainers.config_dir, "carol")
        edited = people.replace(carols, keyid)
        shown = "Carol Diaz <carol@example.com>"
    assert edited != people
    people_file.write_text(edited)
    entry = world.approve(root, "mallory", "approver", keys=keys)
    assert world.run(root, "ledger", "push", "origin", keys=keys).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "add an approver")
    git(root, "push", "-q", "origin", "pr")

    pr = ci(world, "pr")
    result, rule = gate(world, pr, "--trust-ref", "origin/main")
    assert result.code == 1, result.out + result.err
    assert "DENY" in result.out
    assert "trust from ref origin/main (commit " in result.out
    assert "✗ approvals: validator 1, approver 1: missing approval by approver" in result.out
    assert "✓ trusted_signers" in result.out  # the rule under attack is the only one failing
    assert result.out.count("✗") == 1
    detail = str(rule["detail"])
    assert rule["passed"] is False
    assert detail.startswith("missing approval by approver; counted: validator: Bob Roy")
    assert f"as approver ({entry[:12]}): signature not accepted" in detail
    assert shown not in detail.split("; not counted:")[0]

    # The attack is real: trusting the PR's working tree counts its approver.
    naive, naive_rule = gate(world, pr)
    assert naive.code == 0, naive.out + naive.err
    assert "ALLOW" in naive.out
    assert "trust from the working tree" in naive.out
    assert naive_rule["detail"] == f"validator: Bob Roy <bob@example.com>; approver: {shown}"
