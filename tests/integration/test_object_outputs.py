"""Object-store URLs as stage outputs, against a real S3 server on loopback (moto): the
object is signed by the sha256 of its bytes but never copied into the local output
cache nor pushed to the remote one (it already lives in shared storage), and a signed
run whose object is gone is re-run, never "restored"."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.integration.s3_helpers import forget_client, loopback_client, moto_server

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

RAW = b"a,b\n1,2\n3,4\n"
CLEAN = "s3://lake/clean/data.csv"
PIPELINE = """\
cache:
  remote: s3://ci-cache/outs
stages:
  prepare:
    cmd: python3 steps/prepare.py
    env:
      public: [AWS_ENDPOINT_URL, AWS_DEFAULT_REGION]
      secret: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
    deps: [steps/prepare.py, s3://lake/raw/data.csv]
    outs: [s3://lake/clean/data.csv, report.txt]
"""
PREPARE = """\
import boto3
s3 = boto3.client('s3')
body = s3.get_object(Bucket='lake', Key='raw/data.csv')['Body'].read()
s3.put_object(Bucket='lake', Key='clean/data.csv', Body=body.upper())
open('report.txt', 'w').write('rows: 2\\n')
with open('runs.log', 'a') as log:
    log.write('ran\\n')
"""


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Bucket ``lake`` holds ``raw/data.csv``; bucket ``ci-cache`` is the remote cache."""
    monkeypatch.delenv("AUDITPIPE_CACHE_REMOTE", raising=False)
    client = loopback_client(s3_server, monkeypatch)
    for bucket in ("lake", "ci-cache"):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket="lake", Key="raw/data.csv", Body=RAW)
    yield client
    for bucket in ("lake", "ci-cache"):
        for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)
    forget_client()


def _ran(project: Project) -> int:
    log = project.root / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _cached_bytes(root: Path) -> set[bytes]:
    """Every file's bytes in the local output cache."""
    cache = root / ".git/auditpipe/cache"
    return {p.read_bytes() for p in cache.rglob("*") if p.is_file()} if cache.is_dir() else set()


def _status(cli: Callable[..., Result]) -> dict[str, Any]:
    return {r["stage"]: r for r in json.loads(cli("status", "--json").out)}["prepare"]


@pytest.fixture
def signed_run(s3: Any, project: Project, cli: Callable[..., Result]) -> Result:
    project.gen({"auditpipe.yaml": PIPELINE, "steps/prepare.py": PREPARE})
    (project.root / ".gitignore").write_text("runs.log\nreport.txt\n")
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 0, result.err
    assert _ran(project) == 1
    return result


def test_a_url_output_is_signed_but_kept_in_no_cache(
    s3: Any, signed_run: Result, project: Project, cli: Callable[..., Result]
) -> None:
    assert "could not keep" not in signed_run.err and "cannot store" not in signed_run.err
    (run,) = json.loads(cli("log", "--json").out)
    statement = json.loads(cli("show", run["id"], "--json").out)["statement"]
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    body = s3.get_object(Bucket="lake", Key="clean/data.csv")["Body"].read()
    assert body == RAW.upper()
    assert subjects[CLEAN] == hashlib.sha256(body).hexdigest()
    # The local file output is cached as before; the object's bytes are not.
    cached = _cached_bytes(project.root)
    assert b"rows: 2\n" in cached and RAW.upper() not in cached
    pushed = cli("cache", "push")
    assert pushed.code == 0, pushed.err
    assert "pushed 1 output(s)" in pushed.err, pushed.err
    remote = [o["Key"] for o in s3.list_objects_v2(Bucket="ci-cache").get("Contents", [])]
    report = hashlib.sha256(b"rows: 2\n").hexdigest()
    assert remote == [f"outs/sha256/{report[:2]}/{report[2:]}"]
    assert "Traceback" not in pushed.err
    assert _status(cli)["upToDate"]
    assert cli("verify", "--ledger").code == 0


def test_a_deleted_url_output_reruns_the_stage_naming_it(
    s3: Any, signed_run: Result, project: Project, cli: Callable[..., Result]
) -> None:
    s3.delete_object(Bucket="lake", Key="clean/data.csv")
    status = _status(cli)
    assert not status["upToDate"]
    assert any(CLEAN in reason for reason in status["reasons"]), status
    assert not any("cached" in reason for reason in status["reasons"]), status
    checkout = cli("checkout")
    assert checkout.code == 1, checkout.out + checkout.err
    assert "no cached run matches it" in checkout.out and CLEAN in checkout.out
    dry = cli("run", "--dry-run")
    assert "would restore" not in dry.err + dry.out, dry.err
    result = cli("run")
    assert result.code == 0, result.err
    assert "restored" not in result.err + result.out, result.err
    assert _ran(project) == 2
    assert s3.get_object(Bucket="lake", Key="clean/data.csv")["Body"].read() == RAW.upper()
    assert _status(cli)["upToDate"]


def test_a_lost_local_output_is_restored_while_the_object_is_intact(
    s3: Any, signed_run: Result, project: Project, cli: Callable[..., Result]
) -> None:
    (project.root / "report.txt").unlink()
    assert cli("checkout").code == 0
    assert (project.root / "report.txt").read_text() == "rows: 2\n"
    (project.root / "report.txt").unlink()
    result = cli("run")
    assert result.code == 0, result.err
    assert "restored outputs of run" in result.err + result.out, result.err
    assert _ran(project) == 1
    assert _status(cli)["upToDate"]


def test_an_overwritten_url_output_or_a_changed_dep_reruns_over_the_object(
    s3: Any, signed_run: Result, project: Project, cli: Callable[..., Result]
) -> None:
    """The object is never cleared or set aside before a run (it is not in the tree):
    the command overwrites it, and the new bytes are signed."""
    s3.put_object(Bucket="lake", Key="clean/data.csv", Body=b"tampered\n")
    status = _status(cli)
    assert any(f"output {CLEAN} modified" in reason for reason in status["reasons"]), status
    assert cli("checkout").code == 1
    result = cli("run")
    assert result.code == 0, result.err
    assert "restored" not in result.err + result.out and _ran(project) == 2
    s3.put_object(Bucket="lake", Key="raw/data.csv", Body=RAW + b"5,6\n")
    result = cli("run")
    assert result.code == 0, result.err
    assert "could not keep" not in result.err and "moved it to the cache" not in result.err
    assert _ran(project) == 3
    runs = json.loads(cli("log", "--json").out)
    statement = json.loads(cli("show", runs[0]["id"], "--json").out)["statement"]
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert subjects[CLEAN] == hashlib.sha256((RAW + b"5,6\n").upper()).hexdigest()
    assert cli("verify", "--ledger").code == 0
