"""Attacks on object-store dependencies, against a real S3 server on loopback (moto):
the digest signed must be of the bytes of the version whose ETag is recorded, a
rewrite while the stage runs fails it, objects that move while being hashed or bad
credentials give a clear exit 2 with nothing recorded, and a no-op status lists once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.integration.s3_helpers import (
    forget_client,
    loopback_client,
    moto_server,
    recorded_calls,
    require_auth,
)

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

RAW = b"a,b\n1,2\n3,4\n"
ENV = """\
    env:
      public: [AWS_ENDPOINT_URL, AWS_DEFAULT_REGION]
      secret: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
"""
PIPELINE = (
    "stages:\n  prepare:\n    cmd: python3 steps/prepare.py\n"
    + ENV
    + "    deps: [steps/prepare.py, s3://lake/raw/data.csv]\n"
    "    outs: [s3://lake/clean/data.csv]\n"
)
PREPARE = (
    "import boto3\n"
    "s3 = boto3.client('s3')\n"
    "body = s3.get_object(Bucket='lake', Key='raw/data.csv')['Body'].read()\n"
    "s3.put_object(Bucket='lake', Key='clean/data.csv', Body=body.upper())\n"
)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client on the loopback server; bucket ``lake`` (versioned) holds ``raw/data.csv``."""
    client = loopback_client(s3_server, monkeypatch)
    client.create_bucket(Bucket="lake")
    client.put_bucket_versioning(Bucket="lake", VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket="lake", Key="raw/data.csv", Body=RAW)
    yield client
    for version in client.list_object_versions(Bucket="lake").get("Versions", []):
        client.delete_object(Bucket="lake", Key=version["Key"], VersionId=version["VersionId"])
    for marker in client.list_object_versions(Bucket="lake").get("DeleteMarkers", []):
        client.delete_object(Bucket="lake", Key=marker["Key"], VersionId=marker["VersionId"])
    client.delete_bucket(Bucket="lake")
    forget_client()


def _statement(cli: Callable[..., Result]) -> dict[str, Any]:
    (run,) = json.loads(cli("log", "--json").out)
    return dict(json.loads(cli("show", run["id"], "--json").out)["statement"])


def test_etag_and_version_id_of_each_object_are_signed(
    s3: Any, project: Project, cli: Callable[..., Result]
) -> None:
    project.gen({"auditpipe.yaml": PIPELINE, "steps/prepare.py": PREPARE})
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 0, result.err
    predicate = _statement(cli)["predicate"]
    raw = {m["name"]: m for m in predicate["materials"]}["s3://lake/raw/data.csv"]
    head = s3.head_object(Bucket="lake", Key="raw/data.csv")
    assert raw["digest"]["sha256"] == hashlib.sha256(RAW).hexdigest()
    assert raw["etag"] == head["ETag"].strip('"')
    assert raw["versionId"] == head["VersionId"]
    (clean,) = predicate["products"]
    head = s3.head_object(Bucket="lake", Key="clean/data.csv")
    assert clean["etag"] == head["ETag"].strip('"') and clean["versionId"] == head["VersionId"]
    assert clean["digest"]["sha256"] == hashlib.sha256(RAW.upper()).hexdigest()
    # Local files carry neither field: old manifests' shape is unchanged.
    script = {m["name"]: m for m in predicate["materials"]}["steps/prepare.py"]
    assert "etag" not in script and "versionId" not in script
    assert cli("verify", "--ledger").code == 0


def test_a_same_size_rewrite_in_the_same_second_fails_the_run(
    s3: Any, project: Project, cli: Callable[..., Result]
) -> None:
    """(size, last-modified) cannot see this: same length, same second. The ETag does."""
    rewrite = PREPARE + "s3.put_object(Bucket='lake', Key='raw/data.csv', Body=b'x' * 12)\n"
    assert len(RAW) == 12
    project.gen({"auditpipe.yaml": PIPELINE, "steps/prepare.py": rewrite})
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 1, result.err
    assert "s3://lake/raw/data.csv changed while the stage ran" in result.err
    assert "the recorded digest may not be what the stage read" in result.err
    (run,) = json.loads(cli("log", "--json").out)
    assert run["status"] == "failed" and run["subjects"] == []


def test_a_rewrite_and_restore_during_the_stage_fails_the_run(
    s3: Any, project: Project, cli: Callable[..., Result]
) -> None:
    """ABA: other bytes, then the original bytes back. The ETag ends where it began, but
    the stage may have read the other bytes; the new last-modified gives it away."""
    aba = (
        "import time; time.sleep(1.1)\n"  # the restore must land in a later second
        + PREPARE
        + "s3.put_object(Bucket='lake', Key='raw/data.csv', Body=b'other bytes!')\n"
        "s3.put_object(Bucket='lake', Key='raw/data.csv', Body=body)\n"
    )
    project.gen({"auditpipe.yaml": PIPELINE, "steps/prepare.py": aba})
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 1, result.err
    assert "s3://lake/raw/data.csv changed while the stage ran" in result.err
    (run,) = json.loads(cli("log", "--json").out)
    assert run["status"] == "failed" and run["subjects"] == []


@pytest.mark.parametrize("fault", ["overwritten", "deleted"])
def test_an_object_that_moves_while_being_hashed_records_nothing(
    fault: str, s3: Any, project: Project, cli: Callable[..., Result]
) -> None:
    """Another writer acts between the listing and the read: no digest of other bytes."""
    from auditpipe.storage import s3 as store

    project.gen({"auditpipe.yaml": PIPELINE, "steps/prepare.py": PREPARE})
    project.commit("pipeline")
    fired: list[str] = []

    def other_writer(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == "raw/data.csv" and not fired:
            fired.append(params["Key"])
            if fault == "overwritten":
                s3.put_object(Bucket="lake", Key="raw/data.csv", Body=b"tampered,rows\n")
            else:
                s3.delete_object(Bucket="lake", Key="raw/data.csv")

    events = store.client().meta.events
    events.register("before-parameter-build.s3.GetObject", other_writer)
    try:
        result = cli("run")
    finally:
        events.unregister("before-parameter-build.s3.GetObject", other_writer)
    assert fired, "the hook never ran: the object was not read by a GET"
    assert result.code == 2, result.err
    assert "s3://lake/raw/data.csv" in result.err
    assert "changed or vanished while being hashed" in result.err
    assert "Traceback" not in result.err
    assert json.loads(cli("log", "--json").out) == []
    if fault == "overwritten":  # the cache kept nothing of the interrupted read
        result = cli("run")
        assert result.code == 0, result.err
        raw = {m["name"]: m for m in _statement(cli)["predicate"]["materials"]}
        digest = raw["s3://lake/raw/data.csv"]["digest"]["sha256"]
        assert digest == hashlib.sha256(b"tampered,rows\n").hexdigest()


def test_refused_credentials_exit_2_naming_the_url_and_their_source(
    s3: Any, s3_server: str, project: Project, cli: Callable[..., Result]
) -> None:
    project.gen({"auditpipe.yaml": PIPELINE, "steps/prepare.py": PREPARE})
    project.commit("pipeline")
    with require_auth(s3_server):
        status = cli("status")
        run = cli("run")
    for result in (status, run):
        assert result.code == 2, result.err
        assert "s3://lake/raw/data.csv" in result.err
        assert "InvalidAccessKeyId" in result.err
        assert "AWS_ACCESS_KEY_ID" in result.err  # where the refused credentials came from
        assert "Traceback" not in result.err
    assert json.loads(cli("log", "--json").out) == []


def test_a_noop_status_lists_once_and_reads_no_object(
    s3: Any, project: Project, cli: Callable[..., Result]
) -> None:
    count = 300
    for i in range(count):
        s3.put_object(Bucket="lake", Key=f"many/{i}.txt", Body=f"{i}\n".encode())
    deps = ", ".join(f"s3://lake/many/{i}.txt" for i in range(count))
    pipeline = (
        "stages:\n  count:\n    cmd: echo done > out.txt\n"
        + ENV
        + f"    deps: [{deps}]\n    outs: [out.txt]\n"
    )
    project.gen({"auditpipe.yaml": pipeline})
    project.commit("pipeline")
    assert cli("run").code == 0
    with recorded_calls() as calls:
        result = cli("status", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)[0]["upToDate"]
    assert dict(calls) == {"ListObjectsV2": 1}
    # One changed object: its stage is stale, the reason names it, only it is read.
    s3.put_object(Bucket="lake", Key="many/7.txt", Body=b"seven\n")
    with recorded_calls() as calls:
        (row,) = json.loads(cli("status", "--json").out)
    assert not row["upToDate"]
    assert any("s3://lake/many/7.txt" in reason for reason in row["reasons"]), row["reasons"]
    assert not any("s3://lake/many/8.txt" in reason for reason in row["reasons"])
    assert dict(calls) == {"ListObjectsV2": 1, "GetObject": 1}


def test_a_prefix_dependency_is_fingerprinted_like_a_directory(
    s3: Any, project: Project, cli: Callable[..., Result], tmp_path: Any
) -> None:
    """Same Merkle digest as the same files on disk: an auditor can reproduce it."""
    from auditpipe.fingerprint import fingerprint

    files = {"a.txt": b"alpha\n", "sub/b.txt": b"beta\n"}
    for rel, data in files.items():
        s3.put_object(Bucket="lake", Key=f"set/{rel}", Body=data)
        (tmp_path / "set" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "set" / rel).write_bytes(data)
    from auditpipe.storage.objects import fingerprint_urls

    found = fingerprint_urls(["s3://lake/set", "s3://lake/absent"])
    assert list(found) == ["s3://lake/set"]
    local = fingerprint(tmp_path / "set")
    assert (found["s3://lake/set"].sha256, found["s3://lake/set"].size) == (
        local.sha256,
        local.size,
    )
    assert found["s3://lake/set"].files == 2


def test_without_boto3_s3_goes_through_pyarrow_and_says_so_once(
    s3: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sys

    from auditpipe.storage import objects
    from auditpipe.storage import s3 as store

    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError
    monkeypatch.setitem(sys.modules, "botocore", None)  # and so does boto3's core
    monkeypatch.setattr(objects, "_warned", [])
    store.reset()
    with caplog.at_level("WARNING"):
        first = objects.fingerprint_urls(["s3://lake/raw/data.csv"])
        objects.fingerprint_urls(["s3://lake/raw/data.csv"])
    fp = first["s3://lake/raw/data.csv"]
    assert fp.sha256 == hashlib.sha256(RAW).hexdigest()
    assert fp.etag is None and fp.version_id is None
    notes = [r.getMessage() for r in caplog.records if "boto3 is not installed" in r.getMessage()]
    assert len(notes) == 1 and "(size, last-modified)" in notes[0]


def test_credentials_revoked_while_the_stage_runs_sign_nothing(
    s3: Any, s3_server: str, project: Project, cli: Callable[..., Result]
) -> None:
    """The after-run ETag check cannot be made: the run fails, no traceback, nothing signed
    as a success, and the ledger still verifies."""
    import requests

    revoke = PREPARE + (
        "import os, urllib.request\n"
        "url = os.environ['AWS_ENDPOINT_URL'] + '/moto-api/reset-auth'\n"
        "head = {'Content-Type': 'application/octet-stream'}\n"
        "urllib.request.urlopen(urllib.request.Request(url, data=b'0', headers=head))\n"
    )
    project.gen({"auditpipe.yaml": PIPELINE, "steps/prepare.py": revoke})
    project.commit("pipeline")
    try:
        result = cli("run")
    finally:
        requests.post(f"{s3_server}/moto-api/reset-auth", data=b"inf", timeout=10)
    assert result.code in (1, 2), result.err
    assert "s3://lake/clean/data.csv" in result.err, result.err
    assert "InvalidAccessKeyId" in result.err and "AWS_ACCESS_KEY_ID" in result.err
    assert "Traceback" not in result.err
    runs = json.loads(cli("log", "--json").out)
    assert all(run["status"] != "succeeded" for run in runs)
    assert cli("verify", "--ledger").code == 0
