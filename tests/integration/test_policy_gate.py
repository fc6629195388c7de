"""`gate`, `verify ARTIFACT`, `promote` and `registry` on a real pipeline and ledger."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result, run_auditpipe

PIPELINE = """\
params: params.yaml
stages:
  prep:
    cmd: python3 steps/prep.py
    deps: [steps/prep.py, in/raw.txt]
    outs: [out/prep.txt]
  train:
    cmd: python3 steps/train.py
    deps: [steps/train.py, out/prep.txt]
    params: [train]
    outs: [models/model.bin]
  evaluate:
    cmd: python3 steps/evaluate.py
    deps: [steps/evaluate.py, models/model.bin]
    params: [evaluate]
    metrics: [metrics/eval.json]
"""

STEPS = {
    "steps/prep.py": "open('out/prep.txt', 'w').write(open('in/raw.txt').read().upper())\n",
    "steps/train.py": "import yaml\nk = yaml.safe_load(open('params.yaml'))['train']['k']\n"
    "open('models/model.bin', 'w').write(open('out/prep.txt').read() * k)\n",
    "steps/evaluate.py": "import json, yaml\n"
    "acc = yaml.safe_load(open('params.yaml'))['evaluate']['acc']\n"
    "json.dump({'accuracy': acc, 'rows': len(open('models/model.bin').read())},"
    " open('metrics/eval.json', 'w'))\n",
}

POLICY = """\
version: 1
name: strict
artifacts: ["models/*.bin"]
require:
  stages: [prep, train, evaluate]
rules:
  - gates_passed: {on_missing: allow}
  - trusted_signers
  - not_stale
  - no_dirty_code
  - metric: {stage: evaluate, name: accuracy, min: 0.9}
  - no_regression: {stage: evaluate, metric: accuracy, tolerance: 0.01, on_missing: allow}
  - cel: {name: evaluated on enough rows, expr: "stages.evaluate.metrics.rows >= 4"}
"""

Cli = Callable[..., Result]


def params(k: int = 2, acc: float = 0.95) -> str:
    return f"train:\n  k: {k}\nevaluate:\n  acc: {acc}\n"


@pytest.fixture
def built(project: Project, cli: Cli) -> Project:
    project.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "params.yaml": params(),
            "policies/strict.yaml": POLICY,
            "in/raw.txt": "abc\n",
            "out/.keep": "",
            "models/.keep": "",
            "metrics/.keep": "",
            **STEPS,
        }
    )
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 0, result.err
    return project


def gate(cli: Cli, *args: str) -> tuple[int, dict[str, dict]]:
    result = cli("gate", "--policy", "policies/strict.yaml", "--json", *args)
    decisions = json.loads(result.out)
    rules = {r["rule"]: r for r in decisions[0]["rules"]}
    return result.code, rules


def failed(rules: dict[str, dict]) -> list[str]:
    return [name for name, r in rules.items() if not r["passed"]]


def test_gate_allows_a_model_built_by_signed_runs(built: Project, cli: Cli) -> None:
    code, rules = gate(cli)
    assert code == 0, rules
    assert failed(rules) == []
    assert rules["metric evaluate.accuracy >= 0.9"]["detail"] == "evaluate.accuracy = 0.95"
    text = cli("gate", "--policy", "policies/strict.yaml")
    assert text.code == 0 and text.out.startswith("ALLOW models/model.bin")


def test_gate_denies_a_model_changed_after_its_run(built: Project, cli: Cli) -> None:
    (built.root / "models/model.bin").write_text("tampered weights")
    code, rules = gate(cli)
    assert code == 1
    assert "lineage is intact" in failed(rules)
    assert "no signed run" in rules["lineage is intact"]["detail"]


def test_gate_denies_a_run_signed_by_an_untrusted_key(built: Project, cli: Cli) -> None:
    assert cli("keys", "generate", "--name", "stranger").code == 0
    built.gen({"in/raw.txt": "abd\n"})
    built.commit("new data")
    assert cli("run", "--key", "stranger").code == 0
    code, rules = gate(cli)
    assert code == 1
    assert "trusted_signers" in failed(rules)
    assert "not trusted" in rules["trusted_signers"]["detail"]
    # Untrusted runs are no evidence: the stranger's evaluation does not count either,
    # so the metric rules have nothing to read.
    assert rules["required stages: prep, train, evaluate"]["detail"] == (
        "missing from the lineage: evaluate"
    )


def test_gate_denies_when_code_changed_since_the_run(built: Project, cli: Cli) -> None:
    built.gen({"steps/prep.py": STEPS["steps/prep.py"] + "# refactor\n"})
    built.commit("touch prep")
    code, rules = gate(cli)
    assert code == 1
    assert failed(rules) == ["not_stale"]
    assert "steps/prep.py changed since the run" in rules["not_stale"]["detail"]


def test_unrelated_commits_do_not_make_runs_stale(built: Project, cli: Cli) -> None:
    built.gen({"docs/notes.md": "results look good\n", "README.md": "more\n"})
    built.commit("docs only")
    code, rules = gate(cli)
    assert code == 0, failed(rules)


def test_gate_denies_a_metric_below_threshold(built: Project, cli: Cli) -> None:
    built.gen({"params.yaml": params(acc=0.5)})
    built.commit("worse model")
    assert cli("run").code == 0
    code, rules = gate(cli)
    assert code == 1
    assert failed(rules) == ["metric evaluate.accuracy >= 0.9"]


def test_gate_denies_a_regression_against_base(built: Project, cli: Cli) -> None:
    built.gen({"models/model.bin": (built.root / "models/model.bin").read_text()})
    built.git("add", "-f", "models/model.bin")
    built.commit("ship model v1")
    built.git("branch", "base")
    built.gen({"params.yaml": params(k=3, acc=0.91)})
    built.commit("params v2")  # committed first: a run on uncommitted params is dirty
    assert cli("run").code == 0
    built.git("add", "-f", "models/model.bin")
    built.commit("model v2")
    code, rules = gate(cli, "--base", "base")
    assert code == 1
    name = "no regression of evaluate.accuracy (tolerance 0.01)"
    assert failed(rules) == [name]
    assert "0.95 -> 0.91" in rules[name]["detail"]


def test_gate_writes_markdown_for_pull_requests(built: Project, cli: Cli, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result = cli("gate", "--policy", "policies/strict.yaml", "--markdown", str(summary))
    assert result.code == 0
    text = summary.read_text()
    assert text.startswith("## auditpipe gate: ✅ allow")
    assert "| ⚪ | gates_passed | no gates on this lineage" in text  # never a pass


@pytest.mark.parametrize(
    ("policy", "where", "phrase"),
    [
        ("version: 1\nname: x\nrules: [gates_passed\n", "strict.yaml:", "YAML"),
        (
            "version: 1\nname: x\nrules:\n  - cel: {name: c, expr: 'runs.all(r, '}\n",
            "strict.yaml:4",
            "CEL syntax error",
        ),
        ("version: 1\nname: x\nrulez: [gates_passed]\n", "strict.yaml:3", "rulez"),
        ("version: 1\nname: x\nrules:\n  - gates_pased\n", "strict.yaml:4", "unknown rule"),
        ("version: 1\nname: x\n", "strict.yaml:1", "no rules"),
        ("", "strict.yaml:1", "empty"),
    ],
)
def test_malformed_policy_exits_2_with_position(
    built: Project, policy: str, where: str, phrase: str
) -> None:
    built.gen({"policies/strict.yaml": policy})
    result = run_auditpipe(built.root, "gate", "--policy", "policies/strict.yaml")
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert where in result.err
    assert phrase in result.err


def test_verify_walks_to_the_source_data(built: Project, cli: Cli) -> None:
    result = cli("verify", "models/model.bin")
    assert result.code == 0, result.err
    for stage in ("train", "prep", "source in/raw.txt", "used by evaluate"):
        assert stage in result.out


def test_verify_catches_changed_source_data(built: Project, cli: Cli) -> None:
    (built.root / "in/raw.txt").write_text("different\n")
    result = cli("verify", "models/model.bin")
    assert result.code == 1
    assert "source in/raw.txt: source data changed since it was fingerprinted" in result.err


def test_verify_catches_a_missing_producing_run(built: Project, cli: Cli) -> None:
    runs = {r["stage"]: r["id"] for r in json.loads(cli("log", "--json").out)}
    prep = runs["prep"]
    # Remove the producing run from the ledger with git plumbing (a rewrite).
    index = built.root / ".git" / "tmp-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    subprocess.run(["git", "read-tree", "auditpipe/ledger"], cwd=built.root, env=env, check=True)
    subprocess.run(
        ["git", "rm", "-q", "--cached", f"entries/{prep[:2]}/{prep}.sigstore.json"],
        cwd=built.root,
        env=env,
        check=True,
    )
    tree = subprocess.run(
        ["git", "write-tree"], cwd=built.root, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    commit = built.git("commit-tree", tree, "-p", "auditpipe/ledger", "-m", "drop").strip()
    built.git("update-ref", "refs/heads/auditpipe/ledger", commit)
    result = cli("verify", "models/model.bin")
    assert result.code == 1
    # caught before the lineage walk: the head's entries are not the appended ones
    assert f"entries/{prep[:2]}/{prep}.sigstore.json: an appended entry is gone" in result.err


def test_promote_on_deny_appends_nothing(built: Project, cli: Cli) -> None:
    built.gen({"params.yaml": params(acc=0.5)})
    built.commit("worse")
    assert cli("run").code == 0
    head = built.git("rev-parse", "auditpipe/ledger")
    result = cli(
        "promote", "models/model.bin", "--to", "production", "--policy", "policies/strict.yaml"
    )
    assert result.code == 1
    assert built.git("rev-parse", "auditpipe/ledger") == head


def test_promote_on_allow_is_signed_and_listed(built: Project, cli: Cli) -> None:
    result = cli(
        "promote", "models/model.bin", "--to", "production", "--policy", "policies/strict.yaml"
    )
    assert result.code == 0, result.err
    entry = result.out.strip().splitlines()[-1].split()[-1]
    rows = json.loads(cli("registry", "--json").out)
    assert [(r["artifact"], r["stage"], r["id"]) for r in rows] == [
        ("models/model.bin", "production", entry)
    ]
    kinds = {r["id"]: r["kind"] for r in json.loads(cli("log", "--json").out)}
    assert kinds[entry] == "promotion"
    assert cli("verify", "--ledger").code == 0
    assert "models/model.bin @ production" in cli("registry").out


def gate_with(built: Project, cli: Cli, rules: str, *args: str) -> Result:
    built.gen({"policies/q.yaml": f"version: 1\nname: q\nrules:\n{rules}"})
    return cli("gate", "models/model.bin", "--policy", "policies/q.yaml", *args)


def test_a_rule_with_nothing_to_check_denies_unless_the_policy_allows(
    built: Project, cli: Cli
) -> None:
    denied = gate_with(built, cli, "  - gates_passed\n  - trusted_signers\n")
    assert denied.code == 1
    assert "✗ gates_passed: no gates on this lineage (denied: on_missing is deny)" in denied.out
    allowed = gate_with(built, cli, "  - gates_passed: {on_missing: allow}\n")
    assert allowed.code == 0
    line = next(x for x in allowed.out.splitlines() if "gates_passed" in x)
    assert line.strip().startswith("○") and "✓" not in line
    no_base = gate_with(
        built, cli, "  - no_regression: {stage: evaluate, metric: accuracy}\n", "--json"
    )
    assert no_base.code == 1
    (rule,) = [r for r in json.loads(no_base.out)[0]["rules"] if r["rule"].startswith("no reg")]
    assert rule["missing"] is True
    assert rule["detail"].startswith("no baseline (no --base given)")
    bad = gate_with(built, cli, "  - gates_passed: {on_missing: maybe}\n")
    assert bad.code == 2
    assert "q.yaml:4" in bad.err


def test_cel_failures_show_the_facts_they_read(built: Project, cli: Cli) -> None:
    false = gate_with(
        built, cli, "  - cel: {name: rows, expr: 'stages.evaluate.metrics.rows >= 400'}\n"
    )
    assert false.code == 1
    assert "✗ rows: false: stages.evaluate.metrics.rows = " in false.out
    error = gate_with(built, cli, "  - cel: {name: typo, expr: 'stages.evalu.metrics.rows > 1'}\n")
    assert error.code == 1
    line = next(x for x in error.out.splitlines() if "typo" in x)
    assert "CEL rule 'typo' could not be evaluated" in line
    assert "absent: no 'evalu' in stages" in line
    assert "<class" not in error.out and "KeyError" not in error.out


def test_no_regression_finds_its_baseline_through_the_base_lock(built: Project, cli: Cli) -> None:
    """The model is not committed (gitignored, as DVC users keep it); the base
    revision's auditpipe.lock names the run whose products were current there."""
    log = json.loads(cli("log", "--json").out)
    lock = json.loads((built.root / "auditpipe.lock").read_text())  # written by `run`
    assert set(lock["stages"].values()) <= {r["id"] for r in log}
    built.gen({".gitignore": "models/model.bin\n"})
    built.git("rm", "-q", "--cached", "models/model.bin", check=False)
    built.commit("lock v1")
    built.git("branch", "base")
    built.gen({"params.yaml": params(k=3, acc=0.91)})
    built.commit("params v2")
    assert cli("run").code == 0
    assert "models/model.bin" not in built.git("ls-files")
    code, rules = gate(cli, "--base", "base")
    name = "no regression of evaluate.accuracy (tolerance 0.01)"
    assert code == 1
    assert "0.95 -> 0.91" in rules[name]["detail"], rules[name]
