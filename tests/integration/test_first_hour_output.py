"""First-hour frictions in what the CLI prints (issue 16, items 7, 9 and 12):
messages in plain words, output that is never cut when it is not a terminal,
and signs of life on stderr (never in --json) for anything slow."""

from __future__ import annotations

import os
from collections.abc import Callable

from tests.conftest import Project, Result, run_auditpipe

Cli = Callable[..., Result]

DEEP = "data/raw/" + "/".join(["a-rather-long-folder-name"] * 4) + "/wine-quality-red.csv"


def record(project: Project, cli: Cli, *args: str) -> str:
    result = cli("record", *args)
    assert result.code == 0, result.err
    return result.out.strip()


# -- 9. output that is not a terminal is never cut ---------------------------------------


def test_verify_piped_to_a_file_keeps_every_line_whole(project: Project, cli: Cli) -> None:
    project.gen({DEEP: "a,b\n1,2\n", "models/model.pkl": b"model"})
    project.commit("data")
    record(
        project, cli, "--stage", "train", "--cmd", "x", "--dep", DEEP, "--out", "models/model.pkl"
    )
    project.gen({DEEP: "a,b\n1,3\n"})  # the source changed: a long problem line
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    result = run_auditpipe(project.root, "verify", "models/model.pkl", env=env)
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    source = next(line for line in lines if f"source {DEEP}" in line)
    assert len(source) > 80  # laid out on one line, not wrapped at 80 columns
    problem = next(line for line in lines if "source data changed since it was" in line)
    assert problem.rstrip().endswith(")"), problem  # the digests are whole
    assert all(line == line.rstrip() for line in lines)  # and lines are not padded


# -- 7. messages in plain words ----------------------------------------------------------


def test_secret_param_refusal_has_no_validation_library_prefix(project: Project, cli: Cli) -> None:
    result = cli("record", "--stage", "train", "--cmd", "x", "--param", "api_token=abc")
    assert result.code == 2, result.err
    assert "param 'api_token' looks like a secret" in result.err
    assert "Value error" not in result.err
    assert "params: " not in result.err


def test_missing_metric_reason_reads_as_english(project: Project, cli: Cli) -> None:
    project.gen({"models/model.pkl": b"model"})
    record(project, cli, "--stage", "evaluate", "--cmd", "x", "--out", "models/model.pkl")
    project.gen(
        {
            "policies/p.yaml": "version: 1\nname: p\nrules:\n"
            "  - metric: {stage: evaluate, name: auc, min: 0.5}\n"
        }
    )
    result = cli("gate", "--policy", "policies/p.yaml", "models/model.pkl")
    assert result.code == 1, result.err
    assert "no metric auc in the evaluate run" in result.out
