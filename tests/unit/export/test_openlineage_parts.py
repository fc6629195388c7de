"""The parts of the OpenLineage output: run ids, dataset and job names, secret
screening, opt-in column statistics, and when the client is configured at all."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from auditpipe.export.openlineage import facets
from auditpipe.export.openlineage.emitter import configured
from auditpipe.export.openlineage.naming import dataset, job_namespace, repository_url
from auditpipe.export.openlineage.runid import new_run_id, run_id_of
from auditpipe.export.openlineage.screen import screen
from auditpipe.manifest.predicates import Digest, Material
from auditpipe.workspace import Workspace
from tests.conftest import git


def test_run_ids_are_uuid_v7_in_time_order() -> None:
    ids = [new_run_id() for _ in range(50)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(ids)) == 50
    millis = [u.int >> 80 for u in parsed]
    assert millis == sorted(millis)


def test_a_recorded_run_id_wins_and_old_runs_get_a_stable_derived_one() -> None:
    assert run_id_of("a" * 64, "0190a5e2-7b3c-7def-8a01-23456789abcd").startswith("0190a5e2")
    derived = run_id_of("a" * 64, None)
    assert derived == run_id_of("a" * 64, None) != run_id_of("b" * 64, None)
    assert uuid.UUID(derived).version == 5


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data/raw/wine.csv", ("file", "/repo/data/raw/wine.csv")),
        ("s3://bucket/path/to/part.parquet", ("s3://bucket", "path/to/part.parquet")),
        ("s3a://bucket/key", ("s3://bucket", "key")),
        ("gs://b/k/x.csv", ("gs://b", "k/x.csv")),
        ("abfss://c@acct.dfs.core.windows.net/p", ("abfss://c@acct.dfs.core.windows.net", "p")),
        ("hdfs://nn:8020/warehouse/t", ("hdfs://nn:8020", "warehouse/t")),
        ("file:///mnt/shared/x.csv", ("file", "/mnt/shared/x.csv")),
    ],
)
def test_datasets_follow_the_openlineage_naming_spec(name: str, expected: tuple[str, str]) -> None:
    assert dataset(Path("/repo"), name) == expected


@pytest.mark.parametrize(
    ("remote", "url", "namespace"),
    [
        (
            "git@github.com:acme/models.git",
            "https://github.com/acme/models.git",
            "github.com/acme/models",
        ),
        (
            "https://user:ghp_secret@github.com/acme/models.git",
            "https://github.com/acme/models.git",
            "github.com/acme/models",
        ),
        (
            "ssh://git@gitlab.example:2222/ml/x",
            "https://gitlab.example:2222/ml/x",
            "gitlab.example:2222/ml/x",
        ),
    ],
)
def test_job_namespace_and_repository_url_come_from_origin_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remote: str, url: str, namespace: str
) -> None:
    monkeypatch.delenv("OPENLINEAGE_NAMESPACE", raising=False)
    git(tmp_path, "init", "-q")
    git(tmp_path, "remote", "add", "origin", remote)
    workspace = Workspace.discover(tmp_path)
    assert repository_url(workspace) == url
    assert job_namespace(workspace) == namespace
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "team-ml")
    assert job_namespace(workspace) == "team-ml"


def test_without_a_remote_the_namespace_is_the_folder(tmp_path: Path) -> None:
    repo = tmp_path / "churn-model"
    repo.mkdir()
    git(repo, "init", "-q")
    workspace = Workspace.discover(repo)
    assert repository_url(workspace) is None
    assert job_namespace(workspace, None) == "churn-model"


def test_secret_values_are_screened_from_params_and_commands() -> None:
    params, command = screen(
        {"train": {"lr": 0.1, "api_key": "k1", "db": {"password": "p"}}, "seed": 7},
        "AWS_SECRET_ACCESS_KEY=abc python train.py --token xyz --lr 0.1 --password='a b'",
    )
    assert params == {"train": {"lr": 0.1, "api_key": "***", "db": {"password": "***"}}, "seed": 7}
    assert (
        command == "AWS_SECRET_ACCESS_KEY=*** python train.py --token *** --lr 0.1 --password=***"
    )
    assert screen({}, None) == ({}, None)


def test_column_statistics_are_opt_in_and_numeric_only() -> None:
    table = {
        "rows": 3,
        "columns": 2,
        "schema": [{"name": "x", "type": "double", "nullable": True}],
        "columnStats": {
            "x": {"nullCount": 1, "min": 0.5, "max": 2.0},
            "s": {"min": "a", "max": "z"},
        },
    }
    material = Material(name="t.parquet", digest=Digest(sha256="a" * 64), size=10, table=table)
    off = facets.input_facets(material, column_stats=False)["dataQualityMetrics"]
    assert off["columnMetrics"] == {} and off["rowCount"] == 3 and off["bytes"] == 10
    on = facets.input_facets(material, column_stats=True)["dataQualityMetrics"]
    assert on["columnMetrics"] == {"x": {"nullCount": 1, "min": 0.5, "max": 2.0}, "s": {}}


def test_configured_the_way_openlineage_is_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert not configured(tmp_path)
    (tmp_path / "openlineage.yml").write_text("transport:\n  type: console\n")
    assert configured(tmp_path)
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert not configured(tmp_path)
    monkeypatch.delenv("OPENLINEAGE_DISABLED")
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:1")
    assert configured(tmp_path / "elsewhere")


def test_an_unconfigured_run_never_imports_the_client(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from auditpipe.cli.export_cmds import live_lineage\n"
        "import auditpipe.pipeline.executor\n"
        "assert live_lineage(None, None) is None\n"
        "print('openlineage' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
