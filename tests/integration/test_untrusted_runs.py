"""Attacks on ``status`` and ``run`` with runs signed by a key the project does
not trust: such a run counts neither for nor against a stage, exactly as for
``gate`` and ``verify``. Every command runs as a real subprocess (fast path
included), over real git: a bare remote, a contributor's clone with its own
key, and a fresh clone that pulls the contributor's ledger as evidence.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result, git, run_auditpipe

MODEL = "models/model.pkl"
PIPELINE = """\
params: params.yaml
stages:
  train:
    cmd: python -c "open('models/model.pkl', 'w').write(open('data/raw.csv').read()[::-1])"
    deps: [data/raw.csv, src/train.py]
    params: [train.epochs]
    outs: [models/model.pkl]
"""
POLICY = ("--policy", "policies/default.yaml")


def ap(root: Path, keys: Path, *args: str) -> Result:
    """``python -m auditpipe ARGS`` in ``root`` with ``keys`` as its config dir."""
    return run_auditpipe(root, *args, env={"AUDITPIPE_CONFIG_DIR": str(keys)})


def ok(result: Result) -> Result:
    assert result.code == 0, result.out + result.err
    return result


def lock_of(root: Path, stage: str = "train") -> str:
    return str(json.loads((root / "auditpipe.lock").read_text())["stages"][stage])


def untrusted_key(root: Path, keys: Path, name: str = "default") -> str:
    """A fresh key in ``keys``, not added to ``policies/keys/``; its keyid."""
    made = ok(ap(root, keys, "keys", "generate", "--name", name, "--json"))
    return str(json.loads(made.out)["keyid"])


@pytest.fixture
def pipeline(project: Project) -> Project:
    project.gen({"auditpipe.yaml": PIPELINE, "params.yaml": "train:\n  epochs: 3\n"})
    project.gen({"models/.keep": ""})
    project.commit("pipeline")
    return project


def test_a_pulled_untrusted_run_does_not_make_the_stage_up_to_date(
    pipeline: Project, tmp_path: Path
) -> None:
    """A contributor (key not trusted by main) runs the pipeline, commits the model
    and the lock and pushes the ledger. In a fresh clone that pulls it, the
    contributor's run must not make `train` up to date: `status` says why, and
    `run` re-runs it under the project's key, after which gate and verify allow."""
    maintainer = pipeline.config_dir
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", bare.name)
    pipeline.git("remote", "add", "origin", str(bare))
    pipeline.git("push", "-q", "origin", "main")
    ok(ap(pipeline.root, maintainer, "ledger", "push", "origin"))

    contributor, their_keys = tmp_path / "contributor", tmp_path / "contributor-keys"
    git(tmp_path, "clone", "-q", str(bare), contributor.name)
    keyid = untrusted_key(contributor, their_keys)
    ok(ap(contributor, their_keys, "ledger", "pull", "origin"))
    ok(ap(contributor, their_keys, "run"))
    theirs = lock_of(contributor)
    git(contributor, "checkout", "-q", "-b", "pr")
    git(contributor, "add", "-A")
    git(contributor, "commit", "-q", "-m", "model")
    git(contributor, "push", "-q", "origin", "pr")
    ok(ap(contributor, their_keys, "ledger", "push", "origin"))

    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "-b", "pr", str(bare), ci.name)
    ok(ap(ci, maintainer, "ledger", "pull", "origin"))  # untrusted entries: evidence
    for _ in range(2):  # the second answer may come from the no-op state
        status = ok(ap(ci, maintainer, "status"))
        assert "train: stale" in status.out, status.out
        assert "up to date" not in status.out
        assert f"its matching run {theirs[:12]} is signed by an untrusted signer" in status.out
        assert keyid[:12] in status.out and "re-run `train`" in status.out
    rows = json.loads(ok(ap(ci, maintainer, "status", "--json")).out)
    assert [r["upToDate"] for r in rows] == [False] and rows[0]["run"] is None
    assert any("untrusted signer" in reason for reason in rows[0]["reasons"])
    denied = ap(ci, maintainer, "gate", *POLICY, "--trust-ref", "origin/main")
    assert denied.code == 1, denied.out + denied.err

    ran = ok(ap(ci, maintainer, "run"))
    assert "1 ran" in ran.err and "every stage is up to date" not in ran.err, ran.err
    ours = lock_of(ci)
    assert ours != theirs
    status = ok(ap(ci, maintainer, "status"))
    assert status.out == f"train: up to date (run {ours[:12]})\n"
    ok(ap(ci, maintainer, "gate", *POLICY, "--trust-ref", "origin/main"))
    ok(ap(ci, maintainer, "verify", MODEL, "--trust-ref", "origin/main"))
    again = ok(ap(ci, maintainer, "run"))
    assert "every stage is up to date" in again.err


def test_the_local_cache_never_restores_an_untrusted_run(pipeline: Project) -> None:
    """A run signed by an untrusted key left its products in the local cache; with
    the outputs deleted, `run` must run the stage rather than restore them "from a
    signed run", and `checkout` must not restore them either."""
    keys = pipeline.config_dir
    untrusted_key(pipeline.root, keys, "evil")
    ok(ap(pipeline.root, keys, "run", "--key", "evil"))
    evil_run = lock_of(pipeline.root)
    (pipeline.root / MODEL).unlink()
    status = ok(ap(pipeline.root, keys, "status"))
    assert "cached:" not in status.out, status.out
    checkout = ap(pipeline.root, keys, "checkout")
    assert checkout.code == 1 and not (pipeline.root / MODEL).exists(), checkout.out

    ran = ok(ap(pipeline.root, keys, "run"))
    assert "restored" not in ran.err and "1 ran" in ran.err, ran.err
    trusted_run = lock_of(pipeline.root)
    assert trusted_run != evil_run
    # The control: a trusted run's products are restored as before.
    (pipeline.root / MODEL).unlink()
    restored = ok(ap(pipeline.root, keys, "run"))
    assert f"stage is cached — restored outputs of run {trusted_run[:12]}" in restored.err
    assert (
        ok(ap(pipeline.root, keys, "status")).out == f"train: up to date (run {trusted_run[:12]})\n"
    )


def test_an_untrusted_gate_failed_run_does_not_make_a_trusted_run_stale(
    pipeline: Project, cli: Callable[..., Result]
) -> None:
    """Untrusted runs count against nothing either: a stranger's newer `gate_failed`
    run over the very bytes of the trusted run leaves the stage up to date."""
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.signing.factory import local_signer
    from auditpipe.workspace import Workspace
    from tests.unit.report.synthetic import gate, record_run

    keys = pipeline.config_dir
    ok(ap(pipeline.root, keys, "run"))
    trusted_run = lock_of(pipeline.root)
    untrusted_key(pipeline.root, keys, "evil")
    with Ledger(Workspace.discover(pipeline.root)) as ledger:
        failed = gate(pipeline.root, "model", MODEL, success=False, failed=[("x", "c")])
        record_run(
            ledger, local_signer("evil"), "train", {"data/raw.csv": None}, [MODEL],
            validations=[failed], status="gate_failed",
        )  # fmt: skip
    for _ in range(2):
        status = ok(ap(pipeline.root, keys, "status"))
        assert status.out == f"train: up to date (run {trusted_run[:12]})\n"
    skipped = ok(ap(pipeline.root, keys, "run"))
    assert "every stage is up to date" in skipped.err, skipped.err


def test_status_takes_trust_from_the_trust_ref(pipeline: Project, tmp_path: Path) -> None:
    """With $AUDITPIPE_TRUST_REF, a key trusted only in the working tree does not
    count; a trust ref that does not exist is a clear error (exit 2)."""
    keys = pipeline.config_dir
    untrusted_key(pipeline.root, keys, "other")
    exported = tmp_path / "other.pub"
    ok(ap(pipeline.root, keys, "keys", "export", "--name", "other", "-o", str(exported)))
    ok(ap(pipeline.root, keys, "keys", "trust", str(exported)))  # not committed on main
    ok(ap(pipeline.root, keys, "run", "--key", "other"))
    assert ok(ap(pipeline.root, keys, "status")).out.startswith("train: up to date")
    env = {"AUDITPIPE_CONFIG_DIR": str(keys), "AUDITPIPE_TRUST_REF": "main"}
    from_ref = ok(run_auditpipe(pipeline.root, "status", env=env))
    assert "train: stale" in from_ref.out and "untrusted signer" in from_ref.out
    env["AUDITPIPE_TRUST_REF"] = "no-such-branch"
    bad = run_auditpipe(pipeline.root, "status", env=env)
    assert bad.code == 2 and "no-such-branch" in bad.err and "Traceback" not in bad.err


def test_no_trusted_key_at_all_says_what_to_do(pipeline: Project) -> None:
    """A project whose policies/keys/ is gone: every run is untrusted; status says
    so and names the way out instead of claiming the stage is up to date."""
    keys = pipeline.config_dir
    ok(ap(pipeline.root, keys, "run"))
    for pem in (pipeline.root / "policies" / "keys").glob("*.pem"):
        os.unlink(pem)
    status = ok(ap(pipeline.root, keys, "status"))
    assert "train: stale" in status.out and "untrusted signer" in status.out
    assert "auditpipe keys trust" in status.out


TWO_STAGES = """\
params: params.yaml
stages:
  prepare:
    cmd: python -c "open('data/prepared.csv', 'w').write(open('data/raw.csv').read())"
    deps: [data/raw.csv]
    outs: [data/prepared.csv]
  train:
    cmd: python -c "open('models/model.pkl', 'w').write(open('data/prepared.csv').read()[::-1])"
    deps: [data/prepared.csv, src/train.py]
    params: [train.epochs]
    outs: [models/model.pkl]
"""


def test_a_run_links_its_inputs_to_trusted_producers_only(project: Project) -> None:
    """A stranger's newer run claiming to have made the upstream output's bytes must
    not become the `producedBy` of the next trusted run downstream: that would put
    an untrusted run on the model's lineage, and gate would deny honest work."""
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.signing.factory import local_signer
    from auditpipe.workspace import Workspace
    from tests.unit.report.synthetic import record_run

    project.gen({"auditpipe.yaml": TWO_STAGES, "params.yaml": "train:\n  epochs: 3\n"})
    project.gen({"models/.keep": ""})
    project.commit("pipeline")
    keys = project.config_dir
    ok(ap(project.root, keys, "run"))
    prepared = lock_of(project.root, "prepare")
    untrusted_key(project.root, keys, "evil")
    with Ledger(Workspace.discover(project.root)) as ledger:
        record_run(
            ledger, local_signer("evil"), "prepare", {"src/train.py": None}, ["data/prepared.csv"]
        )
    (project.root / "params.yaml").write_text("train:\n  epochs: 4\n")
    ran = ok(ap(project.root, keys, "run"))
    assert "1 ran" in ran.err and "1 skipped" in ran.err, ran.err
    shown = json.loads(ok(ap(project.root, keys, "show", lock_of(project.root), "--json")).out)
    links = {m["name"]: m.get("producedBy") for m in shown["statement"]["predicate"]["materials"]}
    assert links["data/prepared.csv"] == prepared
    ok(ap(project.root, keys, "gate", *POLICY))
