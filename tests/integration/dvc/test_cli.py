"""The CLI on a DVC project: init leaves it alone, bad dvc.yaml exits 2, .dvc data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Project

PIPELINE = """\
stages:
  prepare:
    cmd: python3 -c "open('prepared.txt','w').write(open('data/raw.csv').read())"
    deps: [data/raw.csv]
    outs: [prepared.txt]
"""


def test_init_in_a_dvc_repository_writes_no_auditpipe_yaml(
    bare_repo: Project, cli: Callable[..., Any]
) -> None:
    bare_repo.gen({"dvc.yaml": PIPELINE})
    result = cli("init")
    assert result.code == 0, result.err
    assert not (bare_repo.root / "auditpipe.yaml").exists()
    assert "existing DVC pipeline will be used" in result.out
    result = cli("run")
    assert result.code == 0, result.err + result.out
    assert (bare_repo.root / "prepared.txt").read_text() == "a,b\n1,2\n"
    assert not (bare_repo.root / "dvc.lock").exists()
    assert cli("status").out.strip().startswith("prepare: up to date")


def test_bad_dvc_yaml_is_exit_2_with_file_line_and_suggestion(
    project: Project, cli: Callable[..., Any]
) -> None:
    project.gen({"dvc.yaml": PIPELINE.replace("deps:", "dep:")})
    (project.root / "auditpipe.yaml").unlink(missing_ok=True)
    for command in ("run", "status", "dag"):
        result = cli(command)
        assert result.code == 2, result.out
        assert "dvc.yaml:4" in result.err
        assert "unknown key 'dep'" in result.err
        assert "deps" in result.err
        assert "Traceback" not in result.err


def test_missing_data_tracked_by_a_dvc_file_says_dvc_pull(
    project: Project, cli: Callable[..., Any]
) -> None:
    (project.root / "auditpipe.yaml").unlink(missing_ok=True)
    project.gen(
        {
            "dvc.yaml": PIPELINE.replace("data/raw.csv", "data/big.csv"),
            "data/big.csv.dvc": "outs:\n- md5: 0123\n  path: big.csv\n",
        }
    )
    result = cli("status")
    assert "dependency data/big.csv is missing (tracked by data/big.csv.dvc: run `dvc pull`)" in (
        result.out
    )


def test_top_level_metrics_inside_a_directory_output_are_recorded(
    project: Project, cli: Callable[..., Any]
) -> None:
    (project.root / "auditpipe.yaml").unlink(missing_ok=True)
    project.gen(
        {
            "src/evaluate.py": "import json, os\nos.makedirs('eval', exist_ok=True)\n"
            "json.dump({'auc': 0.75}, open('eval/metrics.json', 'w'))\n",
            "dvc.yaml": "stages:\n  evaluate:\n    cmd: python3 src/evaluate.py\n"
            "    deps: [src/evaluate.py]\n    outs: [eval]\nmetrics: [eval/metrics.json]\n",
        }
    )
    result = cli("run")
    assert result.code == 0, result.err + result.out
    result = cli("metrics", "--json")
    assert result.code == 0, result.err
    assert '"auc": 0.75' in result.out
