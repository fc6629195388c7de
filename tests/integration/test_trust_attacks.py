"""Attacks on trust by a writer of the repository, scripted like examples/ci/.

Each attack runs over a real remote (a bare repository by path, and the same
served by `git daemon` on a loopback port) with three parties, each in its own
clone and with its own key directory: the maintainer (whose key the base branch
trusts), the attacker (who can push branches and ledger entries), and CI (a
fresh `git clone` with no ``.git/auditpipe`` state and no keys), which runs the
example workflow's steps: `ledger pull origin`, then `gate --base origin/main`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import Project, Result, git
from tests.integration.test_ledger_sync import GitServer, daemon  # noqa: F401  (fixture)

Cli = Callable[..., Result]
MODEL = "models/model.pkl"


@dataclass
class World:
    """The shared remote, and how to run auditpipe as one of the parties."""

    url: str
    bare: Path
    tmp: Path
    maintainer: Project
    run_as: Callable[[Path, Path, tuple[str, ...]], Result]

    def run(self, root: Path, *args: str, keys: Path | None = None) -> Result:
        return self.run_as(root, keys or self.tmp / "no-keys", args)

    def clone(self, name: str, branch: str = "main") -> Path:
        """A fresh `git clone` (no ledger, no auditpipe state), as actions/checkout makes."""
        git(self.tmp, "clone", "-q", "-b", branch, self.url, name)
        root = self.tmp / name
        assert not (root / ".git" / "auditpipe").exists()
        return root


@pytest.fixture(params=["path", "daemon"])
def world(
    request: pytest.FixtureRequest,
    project: Project,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    if request.param == "daemon":
        server: GitServer = request.getfixturevalue("daemon")
        bare, url = server.bare("shared.git"), server.url("shared.git")
        git(server.base, "init", "-q", "--bare", "-b", "main", bare.name)
    else:
        bare = tmp_path / "shared.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", bare.name)
        url = str(bare)
    # What a protected ledger branch means on a server: no force-push.
    git(bare, "config", "receive.denyNonFastForwards", "true")

    def run_as(root: Path, keys: Path, args: tuple[str, ...]) -> Result:
        monkeypatch.chdir(root)
        monkeypatch.setenv("AUDITPIPE_CONFIG_DIR", str(keys))
        return cli(*args)

    # The maintainer's honest model: recorded with the key the base trusts.
    project.gen({"src/train.py": "print('train')\n"})
    project.commit("train script")
    project.gen({MODEL: b"honest weights\n"})
    world = World(url, bare, tmp_path, project, run_as)
    recorded = world.run(
        project.root, "record", "--stage", "train", "--dep", "src/train.py", "--out", MODEL,
        keys=project.config_dir,
    )  # fmt: skip
    assert recorded.code == 0, recorded.err
    project.commit("model")
    project.git("remote", "add", "origin", url)
    project.git("push", "-q", "origin", "main")
    pushed = world.run(project.root, "ledger", "push", keys=project.config_dir)
    assert pushed.code == 0, pushed.err
    yield world


def ci_gate(world: World, branch: str, *extra: str) -> Result:
    """The example workflow's steps in a fresh clone of the PR branch."""
    ci = world.clone(f"ci-{branch}", branch)
    pulled = world.run(ci, "ledger", "pull", "origin")
    assert pulled.code == 0, pulled.err
    return world.run(
        ci, "gate", "--policy", "policies/default.yaml", "--base", "origin/main", *extra
    )


EXAMPLE = Path(__file__).parents[2] / "examples" / "ci" / "github-actions.yml"


def example_workflow(world: World, branch: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    """Run the `auditpipe` steps of examples/ci/github-actions.yml, as written, in a
    fresh clone of the PR branch; the gate step's result (the report step is skipped)."""
    workflow = yaml.safe_load(EXAMPLE.read_text())
    job = workflow["jobs"]["gate"]

    def expand(text: str) -> str:
        return text.replace("${{ github.base_ref }}", "main")

    ci = world.clone(f"example-{branch}", branch)
    assert not any("checkout" in str(s.get("run", "")) for s in job["steps"])
    gate = None
    with monkeypatch.context() as env:
        for name, value in job.get("env", {}).items():
            env.setenv(name, expand(value))
        for step in job["steps"]:
            command = shlex.split(expand(step.get("run", "")))
            if command[:1] != ["auditpipe"] or command[1] == "report":
                continue
            result = world.run(ci, *command[1:])
            if command[1] == "gate":
                gate = result
            else:
                assert result.code == 0, result.err
    assert gate is not None
    return gate


def attacker_pr(world: World) -> tuple[str, str]:
    """Attack 1: the PR trusts its own key, records a backdoored model with it,
    pushes the ledger and loosens the policy. Returns (keyid, entry id)."""
    root = world.clone("attacker")
    keys = world.tmp / "attacker-keys"
    assert world.run(root, "ledger", "pull", "origin", keys=keys).code == 0
    git(root, "checkout", "-q", "-b", "pr")
    generated = world.run(root, "keys", "generate", "--name", "evil", "--json", keys=keys)
    assert generated.code == 0, generated.err
    keyid = json.loads(generated.out)["keyid"]
    exported = world.tmp / "evil.pub"
    assert (
        world.run(root, "keys", "export", "--name", "evil", "-o", str(exported), keys=keys).code
        == 0
    )
    assert world.run(root, "keys", "trust", str(exported), keys=keys).code == 0
    (root / MODEL).write_bytes(b"backdoored weights\n")
    recorded = world.run(
        root, "record", "--stage", "train", "--key", "evil", "--dep", "src/train.py",
        "--out", MODEL, keys=keys,
    )  # fmt: skip
    assert recorded.code == 0, recorded.err
    pushed = world.run(root, "ledger", "push", "origin", keys=keys)
    assert pushed.code == 0, pushed.err
    policy = root / "policies" / "default.yaml"
    loosened = (
        policy.read_text()
        .replace("  - trusted_signers", "")
        .replace("keys: []", f"keys: [{keyid}]")
    )
    assert loosened != policy.read_text()
    policy.write_text(loosened)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "better model")
    git(root, "push", "-q", "origin", "pr")
    return keyid, recorded.out.strip()


def test_an_honest_pr_is_allowed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: the same workflow allows a model recorded with the base's trusted key."""
    maintainer = world.maintainer
    maintainer.git("checkout", "-q", "-b", "honest")
    maintainer.gen({MODEL: b"better honest weights\n"})
    recorded = world.run(
        maintainer.root, "record", "--stage", "train", "--dep", "src/train.py", "--out", MODEL,
        keys=maintainer.config_dir,
    )  # fmt: skip
    assert recorded.code == 0, recorded.err
    assert world.run(maintainer.root, "ledger", "push", keys=maintainer.config_dir).code == 0
    maintainer.commit("better model")
    maintainer.git("push", "-q", "origin", "honest")
    result = ci_gate(world, "honest")
    assert result.code == 0, result.out + result.err
    assert "ALLOW" in result.out
    assert "trust from ref origin/main (commit " in result.out
    example = example_workflow(world, "honest", monkeypatch)
    assert example.code == 0, example.out + example.err
    assert "ALLOW" in example.out


def test_a_pr_that_trusts_its_own_key_is_denied(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyid, entry = attacker_pr(world)
    result = ci_gate(world, "pr")
    assert entry[:12] in result.out
    assert result.code == 1, result.out + result.err
    assert "DENY" in result.out
    assert f"untrusted signer: key {keyid}" in result.out
    assert "(not in origin/main:policies/keys/)" in result.out
    assert "trust from ref origin/main (commit " in result.out
    # The PR's own files were never read: its key and its loosened policy are
    # in the working tree of CI's clone, and still the rule it removed ran.
    assert "trusted_signers" in result.out
    as_json = world.run(
        world.tmp / "ci-pr", "gate", "--policy", "policies/default.yaml", "--base", "origin/main",
        "--json",
    )  # fmt: skip
    assert as_json.code == 1
    [decision] = json.loads(as_json.out)
    assert decision["decision"] == "deny"
    assert decision["trust"]["ref"] == "origin/main"
    assert decision["trust"]["source"].startswith("ref origin/main (commit ")
    # $AUDITPIPE_TRUST_REF, for CI steps without --base, does the same.
    ci = world.tmp / "ci-pr"
    with monkeypatch.context() as env:
        env.setenv("AUDITPIPE_TRUST_REF", "origin/main")
        by_env = world.run(ci, "gate", "--policy", "policies/default.yaml")
    assert by_env.code == 1, by_env.out + by_env.err
    assert "trust from ref origin/main (commit " in by_env.out
    # The attack is real: trusting the working tree (what the PR controls)
    # allows it, and the output warns that trust came from there.
    naive = world.run(ci, "gate", "--policy", "policies/default.yaml")
    assert naive.code == 0, naive.out + naive.err
    assert "trust from the working tree" in naive.out
    assert "warning" in naive.err and "--trust-ref" in naive.err


def test_the_example_workflow_as_written_denies_the_pr(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyid, _entry = attacker_pr(world)
    result = example_workflow(world, "pr", monkeypatch)
    assert result.code == 1, result.out + result.err
    assert f"untrusted signer: key {keyid}" in result.out
    assert "trust from ref origin/main (commit " in result.out


def test_the_untrusted_entry_never_blocks_the_maintainers(world: World) -> None:
    """Attack 4: after the PR pushed its entry to the shared ledger, everyone can sync."""
    keyid, rogue = attacker_pr(world)
    maintainer = world.maintainer
    own = maintainer.config_dir
    pulled = world.run(maintainer.root, "ledger", "pull", keys=own)
    assert pulled.code == 0, pulled.err
    assert f"untrusted signer: key {keyid}" in pulled.out
    assert rogue[:12] in pulled.out
    maintainer.gen({"notes.txt": "next\n"})
    appended = world.run(
        maintainer.root, "record", "--stage", "notes", "--out", "notes.txt", keys=own
    )
    assert appended.code == 0, appended.err
    pushed = world.run(maintainer.root, "ledger", "push", "--json", keys=own)
    assert pushed.code == 0, pushed.err
    assert json.loads(pushed.out)["sent"] == 1
    assert (
        git(world.bare, "rev-parse", "refs/heads/auditpipe/ledger").strip()
        == git(maintainer.root, "rev-parse", "refs/heads/auditpipe/ledger").strip()
    )

    verified = world.run(maintainer.root, "verify", "--ledger", keys=own)
    assert verified.code == 0, verified.err
    assert "ledger OK" in verified.out
    assert f"untrusted: {rogue}" in verified.out and keyid in verified.out
    report = json.loads(world.run(maintainer.root, "verify", "--ledger", "--json").out)
    assert report["ok"] is True and report["problems"] == []
    assert [u["entry"] for u in report["untrusted"]] == [rogue]
    assert report["untrusted"][0]["signer"] == f"key {keyid}"

    # A fresh CI clone also syncs; its gate at main still judges by main's trust.
    fresh = world.clone("ci-after")
    assert world.run(fresh, "ledger", "pull", "origin").code == 0
    assert world.run(fresh, "verify", "--ledger", "--trust-ref", "origin/main").code == 0
    gate = world.run(
        fresh, "gate", "--policy", "policies/default.yaml", "--trust-ref", "origin/main"
    )
    assert gate.code == 0, gate.out + gate.err  # main's honest model, main's trusted key


def test_untrusted_entries_cannot_deny_honest_work(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Untrusted entries count neither for nor against: an attacker's newer run of the
    honest model's bytes, a later `gate_failed` run of its stage and a bad evaluation
    of it must not turn main's ALLOW into a DENY."""
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.signing.factory import local_signer
    from auditpipe.workspace import Workspace
    from tests.unit.report.synthetic import gate, record_run

    before = ci_gate_main(world, "ci-before")
    assert before.code == 0, before.out + before.err

    root = world.clone("attacker")
    keys = world.tmp / "attacker-keys"
    assert world.run(root, "ledger", "pull", "origin", keys=keys).code == 0
    assert world.run(root, "keys", "generate", "--name", "evil", keys=keys).code == 0
    evil = local_signer("evil")  # AUDITPIPE_CONFIG_DIR is the attacker's since the last run
    with Ledger(Workspace.discover(root)) as ledger:
        record_run(ledger, evil, "train", {"src/train.py": None}, [MODEL])
        failed = gate(root, "train-data", "src/train.py", success=False, failed=[("x", "c")])
        record_run(
            ledger, evil, "train", {"src/train.py": None}, [], validations=[failed],
            status="gate_failed",
        )  # fmt: skip
        record_run(ledger, evil, "evaluate", {MODEL: None}, [], metrics={"accuracy": 0.0})
    assert world.run(root, "ledger", "push", "origin", keys=keys).code == 0

    after = ci_gate_main(world, "ci-after")
    assert after.code == 0, after.out + after.err
    assert "ALLOW" in after.out


def ci_gate_main(world: World, name: str) -> Result:
    ci = world.clone(name)
    assert world.run(ci, "ledger", "pull", "origin").code == 0
    return world.run(ci, "gate", "--policy", "policies/default.yaml", "--trust-ref", "origin/main")
