"""The remote output cache on S3 (moto's server on loopback): a fresh clone with an
empty local cache restores signed outputs instead of re-running; the remote is
untrusted storage, so bytes that are not the signed ones never land anywhere."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, Result, git
from tests.integration.s3_helpers import loopback_client, moto_server

pytest.importorskip("moto.server")
pytest.importorskip("boto3")
pytest.importorskip("pyarrow.fs")

BUCKET = "ci-cache"
# The command leaves a trace outside the repository, so a test can tell it never ran.
STAGE = """\
cache:
  remote: s3://{bucket}/wine
stages:
  train:
    cmd: echo ran >> {log} && mkdir -p out/parts && printf 'model-bytes' > out/model.bin
      && printf one > out/parts/a.txt && printf two > out/parts/b.txt{extra}
    deps: [data/raw.csv]
    outs: [out/model.bin, out/parts{outs}]
"""


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AUDITPIPE_CACHE_REMOTE", raising=False)
    client = loopback_client(s3_server, monkeypatch)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_of(oid: str) -> str:
    return f"wine/sha256/{oid[:2]}/{oid[2:]}"


@pytest.fixture
def in_repo(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    def run(root: Path, *args: str) -> Result:
        monkeypatch.chdir(root)
        return cli(*args)

    return run


def pipeline(project: Project, log: Path, *, local_only: bool = False) -> None:
    extra = " && printf local > out/local.txt" if local_only else ""
    outs = ", {out/local.txt: {push: false}}" if local_only else ""
    project.gen({"auditpipe.yaml": STAGE.format(bucket=BUCKET, log=log, extra=extra, outs=outs)})
    project.commit("pipeline")


def publish(project: Project, tmp_path: Path) -> Path:
    """A bare origin holding the code and the ledger; returns its path."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", bare.name)
    project.git("remote", "add", "origin", str(bare))
    project.git("push", "-q", "origin", "main", "auditpipe/ledger")
    return bare


def fresh_clone(bare: Path, dest: Path, in_repo: Callable[..., Result]) -> Path:
    """A CI runner: a new clone, its ledger pulled from origin, an empty local cache."""
    git(dest.parent, "clone", "-q", str(bare), dest.name)
    pulled = in_repo(dest, "ledger", "pull")
    assert pulled.code == 0, pulled.err
    assert not (dest / ".git/auditpipe/cache/sha256").exists()
    return dest


def ran(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def run_and_push(project: Project, in_repo: Callable[..., Result]) -> str:
    result = in_repo(project.root, "run")
    assert result.code == 0, result.err
    pushed = in_repo(project.root, "cache", "push")
    assert pushed.code == 0, pushed.err
    assert "pushed 2 output(s)" in pushed.err
    (entry,) = json.loads(in_repo(project.root, "log", "--json").out)
    return str(entry["id"])


def test_a_fresh_clone_restores_signed_outputs_instead_of_running(
    s3: Any, project: Project, tmp_path: Path, in_repo: Callable[..., Result]
) -> None:
    log = tmp_path / "ran.log"
    pipeline(project, log)
    entry = run_and_push(project, in_repo)
    assert ran(log) == 1
    body = s3.get_object(Bucket=BUCKET, Key=key_of(sha(b"model-bytes")))["Body"].read()
    assert body == b"model-bytes"
    again = in_repo(project.root, "cache", "push")
    assert "pushed 0 output(s); 2 already on the remote" in again.err

    b = fresh_clone(publish(project, tmp_path), tmp_path / "b", in_repo)
    planned = in_repo(b, "run", "--dry-run")
    assert planned.code == 0 and "1 would restore" in planned.err, planned.err
    assert not (b / ".git/auditpipe/cache/sha256").exists()  # a dry run downloads nothing
    result = in_repo(b, "run")
    assert result.code == 0, result.err
    assert ran(log) == 1, "the command ran on the fresh clone"
    assert f"stage is cached — restored outputs of run {entry[:12]}" in result.err
    assert "every stage is up to date (restored from the cache)" in result.err
    for rel in ("out/model.bin", "out/parts/a.txt", "out/parts/b.txt"):
        assert sha((b / rel).read_bytes()) == sha((project.root / rel).read_bytes())
    assert "every stage is up to date" in in_repo(b, "run").err
    assert in_repo(b, "verify", "--ledger").code == 0


def test_a_tampered_object_is_refused_and_the_stage_runs(
    s3: Any, project: Project, tmp_path: Path, in_repo: Callable[..., Result]
) -> None:
    log = tmp_path / "ran.log"
    pipeline(project, log)
    entry = run_and_push(project, in_repo)
    key = key_of(sha(b"model-bytes"))
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"evil-bytes!")  # same key, other bytes
    b = fresh_clone(publish(project, tmp_path), tmp_path / "b", in_repo)

    pulled = in_repo(b, "cache", "pull")
    assert pulled.code == 1, pulled.err
    named = f"refused s3://{BUCKET}/{key} for out/model.bin"
    assert named in pulled.err and f"signed by run {entry[:12]}" in pulled.err
    assert not (b / "out/model.bin").exists()
    assert "Traceback" not in pulled.err

    result = in_repo(b, "run")
    assert result.code == 0, result.err
    assert named in result.err and "running the stage instead" in result.err
    assert ran(log) == 2  # it ran instead
    assert (b / "out/model.bin").read_bytes() == b"model-bytes"
    cached = b / ".git/auditpipe/cache/sha256"
    held = [p.read_bytes() for p in cached.rglob("*") if p.is_file()]
    assert b"evil-bytes!" not in held
    # The remote object is never overwritten by a push, even with the right bytes:
    # it is content-addressed, and what is there is checked on every read instead.
    assert in_repo(b, "cache", "push").code == 0
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"evil-bytes!"


def test_a_run_signed_by_an_untrusted_key_is_not_fetched(
    s3: Any, project: Project, tmp_path: Path, in_repo: Callable[..., Result]
) -> None:
    log = tmp_path / "ran.log"
    pipeline(project, log)
    entry = run_and_push(project, in_repo)
    b = fresh_clone(publish(project, tmp_path), tmp_path / "b", in_repo)
    for key in (b / "policies/keys").iterdir():
        key.unlink()  # this runner trusts nobody's key
    # The run does not count for the stage at all (neither up to date nor cached),
    # so it never reaches the remote cache, which would refuse it too.
    status = in_repo(b, "status")
    assert f"its latest run {entry[:12]} is signed by an untrusted signer" in status.out
    assert "cached" not in status.out
    result = in_repo(b, "run")
    assert result.code == 0 and "restored" not in result.err, result.err
    assert ran(log) == 2


def test_push_false_stays_local_and_the_clone_runs(
    s3: Any, project: Project, tmp_path: Path, in_repo: Callable[..., Result]
) -> None:
    log = tmp_path / "ran.log"
    pipeline(project, log, local_only=True)
    assert in_repo(project.root, "run").code == 0
    pushed = in_repo(project.root, "cache", "push")
    assert pushed.code == 0, pushed.err
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=key_of(sha(b"local")))["KeyCount"] == 0
    b = fresh_clone(publish(project, tmp_path), tmp_path / "b", in_repo)
    assert in_repo(b, "run").code == 0
    assert ran(log) == 2  # not every product is on the remote: it runs


def test_remote_faults_are_clear_and_run_falls_back_to_running(
    s3: Any,
    s3_server: str,
    project: Project,
    tmp_path: Path,
    in_repo: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "ran.log"
    pipeline(project, log)
    missing = in_repo(project.root, "cache", "push", "--remote", "s3://no-such-bucket/x")
    assert missing.code == 2
    assert "bucket 'no-such-bucket' does not exist" in missing.err
    assert "Traceback" not in missing.err
    run_and_push(project, in_repo)
    b = fresh_clone(publish(project, tmp_path), tmp_path / "b", in_repo)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    pulled = in_repo(b, "cache", "pull")
    assert pulled.code == 2
    assert f"the remote cache s3://{BUCKET}/wine cannot be used" in pulled.err
    assert "Traceback" not in pulled.err
    # `run` is still correct without its cache: it says so and runs the stage.
    result = in_repo(b, "run")
    assert result.code == 0, result.err
    assert "cannot be used" in result.err and "running the stage instead" in result.err
    assert ran(log) == 2


def test_a_forged_directory_listing_is_refused(
    s3: Any, project: Project, tmp_path: Path, in_repo: Callable[..., Result]
) -> None:
    """The attacker stores their bytes under their true digest (so the object itself
    checks) and rewrites the directory's listing to point at them: the listing must
    make up the Merkle digest the run signed, so nothing of it is used."""
    log = tmp_path / "ran.log"
    pipeline(project, log)
    entry = run_and_push(project, in_repo)
    (listing_key,) = [
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="wine/dirs/")["Contents"]
    ]
    evil = b"evil"
    s3.put_object(Bucket=BUCKET, Key=key_of(sha(evil)), Body=evil)
    listing = json.loads(s3.get_object(Bucket=BUCKET, Key=listing_key)["Body"].read())
    for item in listing["entries"]:
        if item["path"] == "a.txt":
            item.update(sha256=sha(evil), size=len(evil))
    s3.put_object(Bucket=BUCKET, Key=listing_key, Body=json.dumps(listing).encode())
    b = fresh_clone(publish(project, tmp_path), tmp_path / "b", in_repo)

    pulled = in_repo(b, "cache", "pull")
    assert pulled.code == 1, pulled.err
    assert f"refused s3://{BUCKET}/{listing_key} for out/parts: it lists files" in pulled.err
    assert f"signed by run {entry[:12]}" in pulled.err
    assert not (b / "out/parts").exists()
    result = in_repo(b, "run")
    assert result.code == 0 and ran(log) == 2, result.err
    assert (b / "out/parts/a.txt").read_bytes() == b"one"


def test_refused_credentials_are_a_clear_exit_2_and_run_still_runs(
    s3: Any, s3_server: str, project: Project, tmp_path: Path, in_repo: Callable[..., Result]
) -> None:
    import requests

    log = tmp_path / "ran.log"
    pipeline(project, log)
    run_and_push(project, in_repo)
    b = fresh_clone(publish(project, tmp_path), tmp_path / "b", in_repo)
    # The server now checks keys against its IAM, where none exist: every key is refused.
    requests.post(f"{s3_server}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    try:
        pushed, pulled = in_repo(project.root, "cache", "push"), in_repo(b, "cache", "pull")
        result = in_repo(b, "run")
    finally:
        requests.post(f"{s3_server}/moto-api/reset-auth", data=b"inf", timeout=10)
    for refused in (pushed, pulled):
        assert refused.code == 2, refused.err
        assert f"the remote cache s3://{BUCKET}/wine cannot be used" in refused.err
        assert "check the credentials" in refused.err
        assert "Traceback" not in refused.err
    assert result.code == 0, result.err
    assert "cannot be used" in result.err and ran(log) == 2


def test_an_output_naming_a_remote_goes_there_and_comes_back(
    s3: Any, project: Project, tmp_path: Path, in_repo: Callable[..., Result]
) -> None:
    log = tmp_path / "ran.log"
    text = STAGE.format(bucket=BUCKET, log=log, extra="", outs="")
    text = text.replace(
        "  remote: s3://ci-cache/wine\n",
        "  remote: s3://ci-cache/wine\n  remotes:\n    models: s3://ci-cache/models\n",
    ).replace(
        "outs: [out/model.bin, out/parts]", "outs: [{out/model.bin: {remote: models}}, out/parts]"
    )
    project.gen({"auditpipe.yaml": text})
    project.commit("named remote")
    run_and_push(project, in_repo)
    oid = sha(b"model-bytes")
    named = f"models/sha256/{oid[:2]}/{oid[2:]}"
    assert s3.get_object(Bucket=BUCKET, Key=named)["Body"].read() == b"model-bytes"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=key_of(oid))["KeyCount"] == 0
    b = fresh_clone(publish(project, tmp_path), tmp_path / "b", in_repo)
    result = in_repo(b, "run")
    assert result.code == 0 and ran(log) == 1, result.err
    assert (b / "out/model.bin").read_bytes() == b"model-bytes"
