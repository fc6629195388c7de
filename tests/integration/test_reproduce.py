"""`auditpipe reproduce` on real repositories: trusted, clean runs re-performed in
an isolated checkout of their commit; same products exit 0, different exit 1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result

PIPELINE = """\
params: params.yaml
stages:
  prep:
    cmd: python3 steps/prep.py
    deps: [steps/prep.py, data/raw.csv]
    outs: [work/prep.txt]
  train:
    cmd: python3 steps/train.py
    deps: [steps/train.py, work/prep.txt]
    params: [train.k]
    outs: [models/model.bin]
    metrics: [metrics/train.json]
  noise:
    cmd: python3 -c "import os; open('models/noise.bin', 'wb').write(os.urandom(16))"
    deps: [data/raw.csv]
    outs: [models/noise.bin]
"""
STEPS = {
    "steps/prep.py": "import os\nos.makedirs('work', exist_ok=True)\n"
    "open('work/prep.txt', 'w').write(open('data/raw.csv').read().upper())\n",
    "steps/train.py": "import json, os, yaml\n"
    "k = yaml.safe_load(open('params.yaml'))['train']['k']\n"
    "os.makedirs('models', exist_ok=True)\nos.makedirs('metrics', exist_ok=True)\n"
    "open('models/model.bin', 'w').write(open('work/prep.txt').read() * k)\n"
    "json.dump({'k': k}, open('metrics/train.json', 'w'))\n",
}

Cli = Callable[..., Result]


@pytest.fixture
def built(project: Project, cli: Cli) -> Project:
    project.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "params.yaml": "train:\n  k: 2\n",
            ".gitignore": "work/\nmodels/\nmetrics/\n",
            **STEPS,
        }
    )
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 0, result.err
    return project


def test_a_deterministic_run_reproduces_from_its_commit(built: Project, cli: Cli) -> None:
    # The working tree moves on; the reproduction uses the recorded commit and params.
    built.gen({"params.yaml": "train:\n  k: 5\n", "steps/train.py": "raise SystemExit(3)\n"})
    built.commit("later work")
    result = cli("reproduce", "models/model.bin", "--json")
    assert result.code == 0, result.out + result.err
    (outcome,) = json.loads(result.out)
    assert outcome["stage"] == "train" and outcome["matches"] is True
    assert [p["name"] for p in outcome["products"]] == ["metrics/train.json", "models/model.bin"]
    assert all(p["same"] for p in outcome["products"])
    shown = json.loads(cli("show", outcome["entry"], "--json").out)["statement"]
    assert shown["predicateType"] == "https://auditpipe.dev/reproduction/v1"
    assert shown["subject"][0]["digest"]["sha256"] == outcome["run"]
    assert cli("verify", "--ledger").code == 0


def test_upstream_reproduces_the_chain(built: Project, cli: Cli) -> None:
    result = cli("reproduce", "models/model.bin", "--upstream", "--json")
    assert result.code == 0, result.out + result.err
    assert [o["stage"] for o in json.loads(result.out)] == ["prep", "train"]


def test_a_non_deterministic_stage_exits_1_naming_it(built: Project, cli: Cli) -> None:
    result = cli("reproduce", "models/noise.bin")
    assert result.code == 1
    assert "✗ noise run" in result.out
    assert "models/noise.bin:" in result.out
    assert "not reproduced: noise" in result.err


def test_an_untrusted_run_is_refused(built: Project, cli: Cli) -> None:
    assert cli("keys", "generate", "--name", "stranger").code == 0
    built.gen({"data/raw.csv": "a,b\n3,4\n"})
    built.commit("new data")
    assert cli("run", "--key", "stranger").code == 0
    before = len(json.loads(cli("log", "--json").out))
    result = cli("reproduce", "models/model.bin")
    assert result.code == 1
    assert "not signed by a trusted signer" in " ".join(result.err.split())
    assert len(json.loads(cli("log", "--json").out)) == before  # nothing signed


def test_a_dirty_run_is_refused_with_the_reason(built: Project, cli: Cli) -> None:
    built.gen({"params.yaml": "train:\n  k: 3\n"})  # not committed
    assert cli("run").code == 0
    result = cli("reproduce", "models/model.bin")
    assert result.code == 1
    assert "uncommitted changes (params.yaml)" in " ".join(result.err.split())


def test_missing_or_changed_source_data_is_named_and_nothing_runs(
    project: Project, cli: Cli
) -> None:
    project.gen(
        {
            "auditpipe.yaml": "stages:\n  copy:\n"
            "    cmd: mkdir -p out && cat data/ext.bin > out/x\n"
            "    deps: [data/ext.bin]\n    outs: [out/x]\n",
            ".gitignore": "data/ext.bin\nout/\n",
            "data/ext.bin": "v1",
        }
    )
    project.commit("external data, not in git")
    assert cli("run").code == 0
    entries = len(json.loads(cli("log", "--json").out))
    project.gen({"data/ext.bin": "v2"})
    changed = cli("reproduce", "out/x")
    assert changed.code == 1
    message = " ".join(changed.err.split())
    assert "source data data/ext.bin changed" in message
    assert "the run was not attempted" in message
    (project.root / "data/ext.bin").unlink()
    missing = cli("reproduce", "out/x")
    assert missing.code == 1
    assert "source data data/ext.bin is missing" in " ".join(missing.err.split())
    assert len(json.loads(cli("log", "--json").out)) == entries
    project.gen({"data/ext.bin": "v1"})  # the recorded bytes: copied into the checkout
    assert cli("reproduce", "out/x").code == 0


def test_policy_rule_reproduced_and_verify_show_reproductions(built: Project, cli: Cli) -> None:
    built.gen(
        {"policies/r.yaml": "version: 1\nname: r\nrules:\n  - reproduced: {stages: [train]}\n"}
    )
    never = cli("gate", "models/model.bin", "--policy", "policies/r.yaml")
    assert never.code == 1
    assert "was never reproduced: run `auditpipe reproduce" in " ".join(never.out.split())
    assert cli("reproduce", "models/model.bin").code == 0
    allowed = cli("gate", "models/model.bin", "--policy", "policies/r.yaml")
    assert allowed.code == 0, allowed.out
    assert "reproduced (entry" in cli("verify", "models/model.bin").out
    runs = json.loads(cli("verify", "models/model.bin", "--json").out)[0]["runs"]
    train = next(r for r in runs if r["stage"] == "train")
    assert [r["matches"] for r in train["reproductions"]] == [True]
    assert cli("reproduce", "models/noise.bin").code == 1
    built.gen(
        {"policies/n.yaml": "version: 1\nname: n\nrules:\n  - reproduced: {stages: [noise]}\n"}
    )
    different = cli("gate", "models/noise.bin", "--policy", "policies/n.yaml")
    assert different.code == 1
    assert "gave different products when reproduced" in " ".join(different.out.split())


def test_the_report_shows_a_runs_reproductions(built: Project, cli: Cli, tmp_path: Path) -> None:
    assert cli("reproduce", "models/model.bin").code == 0
    pdf = tmp_path / "report.pdf"
    assert cli("report", "models/model.bin", "-o", str(pdf)).code == 0
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "Reproduced same products (entry" in flat
    assert "not reproduced (auditpipe reproduce" in flat  # prep was not
