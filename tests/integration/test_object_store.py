"""Object-store URLs as deps and outs, against an S3-compatible server on loopback
(moto's server mode): digests equal sha256 of the bytes, a changed object makes
its stage stale naming it, outputs written to S3 are fingerprinted by the driver."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.integration.s3_helpers import loopback_client, moto_server

pytest.importorskip("moto.server")
pytest.importorskip("boto3")
pytest.importorskip("pyarrow.fs")

RAW = b"a,b\n1,2\n3,4\n"
PIPELINE = """\
stages:
  prepare:
    cmd: python3 steps/prepare.py
    env:
      public: [AWS_ENDPOINT_URL, AWS_DEFAULT_REGION]
      secret: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
    deps: [steps/prepare.py, s3://lake/raw/data.csv]
    outs: [s3://lake/clean/data.csv]
"""
PREPARE = (
    "import boto3\n"
    "s3 = boto3.client('s3')\n"
    "body = s3.get_object(Bucket='lake', Key='raw/data.csv')['Body'].read()\n"
    "s3.put_object(Bucket='lake', Key='clean/data.csv', Body=body.upper())\n"
    "print('prepared', len(body))\n"
)


def pipeline_text(endpoint: str, raw_key: str = "raw/data.csv") -> str:
    """The pipeline; credentials reach the stage through `env: {secret: [...]}`."""
    del endpoint  # the stage reads AWS_ENDPOINT_URL from the environment it is given
    return PIPELINE.replace("raw/data.csv", raw_key)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An S3 client on the loopback server, bucket ``lake`` holding ``raw/data.csv``."""
    client = loopback_client(s3_server, monkeypatch)
    client.create_bucket(Bucket="lake")
    client.put_object(Bucket="lake", Key="raw/data.csv", Body=RAW)
    yield client
    for obj in client.list_objects_v2(Bucket="lake").get("Contents", []):
        client.delete_object(Bucket="lake", Key=obj["Key"])
    client.delete_bucket(Bucket="lake")


@pytest.fixture
def endpoint(s3: Any, s3_server: str) -> str:
    return s3_server


def test_s3_deps_and_outs_are_fingerprinted_by_the_driver(
    s3: Any, endpoint: str, project: Project, cli: Callable[..., Result]
) -> None:
    project.gen({"auditpipe.yaml": pipeline_text(endpoint), "steps/prepare.py": PREPARE})
    project.commit("pipeline")
    status = {r["stage"]: r for r in json.loads(cli("status", "--json").out)}
    assert not any("missing" in reason for reason in status["prepare"]["reasons"])
    result = cli("run")
    assert result.code == 0, result.err
    (run,) = json.loads(cli("log", "--json").out)
    statement = json.loads(cli("show", run["id"], "--json").out)["statement"]
    assert statement["subject"] == [
        {
            "name": "s3://lake/clean/data.csv",
            "digest": {"sha256": hashlib.sha256(RAW.upper()).hexdigest()},
        }
    ]
    materials = {m["name"]: m for m in statement["predicate"]["materials"]}
    assert (
        materials["s3://lake/raw/data.csv"]["digest"]["sha256"] == hashlib.sha256(RAW).hexdigest()
    )
    assert materials["s3://lake/raw/data.csv"]["size"] == len(RAW)
    assert "every stage is up to date" in cli("run").err
    # Changing the object makes its stage stale, naming it.
    s3.put_object(Bucket="lake", Key="raw/data.csv", Body=RAW + b"5,6\n")
    status = {r["stage"]: r for r in json.loads(cli("status", "--json").out)}
    assert not status["prepare"]["upToDate"]
    assert any("s3://lake/raw/data.csv" in reason for reason in status["prepare"]["reasons"])
    assert cli("verify", "--ledger").code == 0


def test_a_missing_object_is_a_missing_dependency(
    endpoint: str, project: Project, cli: Callable[..., Result]
) -> None:
    project.gen(
        {
            "auditpipe.yaml": pipeline_text(endpoint, "raw/absent.csv"),
            "steps/prepare.py": PREPARE,
        }
    )
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 1
    assert "dependency s3://lake/raw/absent.csv is missing" in result.err
    assert "Traceback" not in result.err


def test_a_dependency_changed_while_the_stage_ran_fails_the_run(
    s3: Any, endpoint: str, project: Project, cli: Callable[..., Result]
) -> None:
    """The digest signed must be what the stage read: a concurrent writer fails it."""
    rewrite = PREPARE + (
        "import time; time.sleep(1.1)\n"
        "s3.put_object(Bucket='lake', Key='raw/data.csv', Body=b'someone else wrote this')\n"
    )
    project.gen({"auditpipe.yaml": pipeline_text(endpoint), "steps/prepare.py": rewrite})
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 1, result.err
    assert "s3://lake/raw/data.csv changed while the stage ran" in result.err
    (run,) = json.loads(cli("log", "--json").out)
    assert run["status"] == "failed" and run["subjects"] == []
