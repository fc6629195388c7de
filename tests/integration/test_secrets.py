"""Secrets never enter the permanent record: refused before a stage runs, kept
out of the ledger, the reports and the stage logs (issue 13, item 2).

Real repositories, real `auditpipe run` subprocesses with secrets in their
environment, and a grep of every git object, decoded DSSE payload, log file and
the report's text for the secret values (and their plain sha256).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Project, Result, git, run_auditpipe
from tests.integration.test_bad_input import assert_bad_input, ledger_state
from tests.integration.test_report import pdftotext

DB_PASSWORD = "Db-pw-Kq7Zx2Lm9Vb4"
API_TOKEN = "tok_Zr81Qw0pLm55Xc3Vb7Nn"
DB_URL_PASSWORD = "Hx8rTq2wPz"
DATABASE_URL = f"postgres://svc:{DB_URL_PASSWORD}@db.internal/prod"
STRAY_AWS_KEY = "AKIAQ7XR2MZL4KD9WP3T"  # printed by a stage, in no variable
ENV = {
    "DB_PASSWORD": DB_PASSWORD,
    "API_TOKEN": API_TOKEN,
    "DATABASE_URL": DATABASE_URL,
    "SEED": "42",
    "HF_HOME": "/opt/hf-cache",
}
SECRET_VALUES = (DB_PASSWORD, API_TOKEN, DATABASE_URL, DB_URL_PASSWORD, STRAY_AWS_KEY)

PIPELINE = """\
params: params.yaml
stages:
  extract:
    cmd: python3 steps/extract.py
    deps: [steps/extract.py]
    outs: [out/raw.csv]
    env: [API_TOKEN, DATABASE_URL, HF_HOME]
  train:
    cmd: python3 steps/train.py
    deps: [steps/train.py, out/raw.csv]
    params: [train]
    outs: [models/model.bin]
    env: {public: [SEED], secret: [DB_PASSWORD]}
"""

EXTRACT = f"""\
import os, sys
print("token", os.environ["API_TOKEN"], "url", os.environ["DATABASE_URL"])
print("aws", "AKIA" + "{STRAY_AWS_KEY[4:]}", file=sys.stderr)  # not in the source
open("out/raw.csv", "w").write("a,b\\n1,2\\n")
"""
TRAIN = """\
import os, sys
print("connecting with", os.environ["DB_PASSWORD"], "seed", os.environ["SEED"])
print("password was", os.environ["DB_PASSWORD"], file=sys.stderr)
open("models/model.bin", "w").write(open("out/raw.csv").read() * 2)
"""


def _pipeline_project(project: Project, pipeline: str = PIPELINE, params: str = "") -> None:
    project.gen(
        {
            "auditpipe.yaml": pipeline,
            "params.yaml": params or "train:\n  k: 2\n  data_sha: " + "ab" * 32 + "\n",
            "steps/extract.py": EXTRACT,
            "steps/train.py": TRAIN,
            "out/.keep": "",
            "models/.keep": "",
        }
    )
    project.commit("pipeline")


def _all_git_objects(root: Path) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout


def _payloads(root: Path) -> list[bytes]:
    """The decoded DSSE payload of every entry on the ledger branch."""
    names = git(root, "ls-tree", "-r", "--name-only", "auditpipe/ledger").split()
    found = []
    for name in names:
        if name.startswith("entries/"):
            bundle = json.loads(git(root, "show", f"auditpipe/ledger:{name}"))
            found.append(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    return found


def _leaks(haystack: bytes) -> list[str]:
    needles = [*SECRET_VALUES, *(hashlib.sha256(v.encode()).hexdigest() for v in SECRET_VALUES)]
    return [n for n in needles if n.encode() in haystack]


def test_secret_values_reach_no_blob_payload_log_or_report(
    project: Project, tmp_path: Path
) -> None:
    _pipeline_project(project)
    result = run_auditpipe(project.root, "run", env=ENV)
    assert result.code == 0, result.err
    for value in (DB_PASSWORD, API_TOKEN, DATABASE_URL):  # the terminal (a CI log) too
        assert value not in result.out + result.err

    payloads = _payloads(project.root)
    assert len(payloads) == 2
    environments = {
        json.loads(p)["predicate"]["stage"]: json.loads(p)["predicate"]["environment"]
        for p in payloads
    }
    # Public variables by value; secret ones (declared, or by name or value) as set only.
    assert environments["train"]["variables"] == {"SEED": "42"}
    assert environments["train"]["secretVariables"] == {"DB_PASSWORD": "set"}
    assert environments["extract"]["variables"] == {"HF_HOME": "/opt/hf-cache"}
    assert environments["extract"]["secretVariables"] == {
        "API_TOKEN": "set",
        "DATABASE_URL": "set",
    }

    assert _leaks(_all_git_objects(project.root)) == []
    assert _leaks(b"".join(payloads)) == []

    logs = sorted((project.root / ".git" / "auditpipe" / "logs").iterdir())
    assert len(logs) == 4
    for log in logs:
        assert log.stat().st_mode & 0o777 == 0o600, log
        assert _leaks(log.read_bytes()) == [], log
    text = b"".join(log.read_bytes() for log in logs)
    assert text.count(b"[REDACTED]") >= 5  # the values were there, and were replaced
    assert b"seed 42" in text  # public values are kept

    # The signed log digests are those of the files kept.
    for payload in payloads:
        statement = json.loads(payload)
        entry = hashlib.sha256(payload).hexdigest()
        for stream in ("stdout", "stderr"):
            kept = project.root / ".git" / "auditpipe" / "logs" / f"{entry}.{stream}"
            digest = statement["predicate"]["logs"][stream]["sha256"]
            assert hashlib.sha256(kept.read_bytes()).hexdigest() == digest

    pdf = tmp_path / "report.pdf"
    report = run_auditpipe(project.root, "report", "models/model.bin", "-o", str(pdf), env=ENV)
    assert report.code == 0, report.err
    shown = pdftotext(pdf)
    assert _leaks(shown.encode()) == []
    flat = "".join(shown.split())
    assert "$DB_PASSWORD" in flat and "secret,set,valuenotrecorded" in flat
    assert "$SEED" in flat


def _marker_pipeline(project: Project, cmd: str, *, env: str = "[]", params: str = "") -> None:
    project.gen(
        {
            "auditpipe.yaml": (
                "params: params.yaml\nstages:\n  train:\n"
                f"    cmd: {json.dumps(cmd)}\n"
                "    params: [train]\n"
                "    outs: [ran.txt]\n"
                f"    env: {env}\n"
            ),
            "params.yaml": params or "train:\n  k: 2\n",
        }
    )
    project.commit("pipeline")


def _assert_refused_before_running(project: Project, result: Result, *needles: str) -> None:
    assert_bad_input(result, "looks like a secret", *needles)
    assert "Value error" not in result.err
    assert not (project.root / "ran.txt").exists(), "the command ran"
    for value in SECRET_VALUES:
        assert value not in result.err


@pytest.mark.parametrize(
    ("cmd", "params", "env", "key"),
    [
        # a literal password on the command line
        (f"mysql --password={DB_PASSWORD} -e 1; touch ran.txt", "", "[]", "stages.train.cmd"),
        # a credential in a URL param, a secret-named param, a cloud key
        ("touch ran.txt", f"train:\n  db: {DATABASE_URL}\n", "[]", "train.db"),
        ("touch ran.txt", "train:\n  pwd: x\n", "[]", "train.pwd"),
        ("touch ran.txt", f"train:\n  aws: {STRAY_AWS_KEY}\n", "[]", "train.aws"),
        # declared public, but the value is a URL with a password
        ("touch ran.txt", "", "{public: [DATABASE_URL]}", "DATABASE_URL"),
    ],
)
def test_a_secret_is_refused_before_the_command_runs(
    project: Project, cmd: str, params: str, env: str, key: str
) -> None:
    _marker_pipeline(project, cmd, env=env, params=params)
    before = ledger_state(project.root)
    result = run_auditpipe(project.root, "run", env=ENV)
    _assert_refused_before_running(project, result, repr(key))
    assert ledger_state(project.root) == before


def test_an_allowed_key_runs_and_is_recorded(project: Project) -> None:
    """The override for a false positive: `secrets: allow:` or `--allow-secret`."""
    token = "aB3dE5fG7hJ9kL1mN3pQ5rS7tV9wX1yZ"  # a build id that only looks random
    _marker_pipeline(project, "touch ran.txt", params=f"train:\n  build: {token}\n")
    refused = run_auditpipe(project.root, "run")
    _assert_refused_before_running(project, refused, "'train.build'", "--allow-secret train.build")
    assert run_auditpipe(project.root, "run", "--allow-secret", "train.build").code == 0
    assert (project.root / "ran.txt").exists()
    (project.root / "ran.txt").unlink()
    project.gen(
        {
            "auditpipe.yaml": (project.root / "auditpipe.yaml").read_text()
            + ("secrets:\n  allow: [train.build]\n")
        }
    )
    project.commit("allow")
    assert run_auditpipe(project.root, "run").code == 0


def test_identifiers_are_not_secrets(project: Project) -> None:
    """sha256 digests, git SHAs and UUIDs are recorded as they are."""
    params = (
        "train:\n"
        f"  data_sha256: {'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'}\n"
        "  commit: 9fceb02d0ae598e95dc970b74767f19372d61af8\n"
        "  run_id: 123e4567-e89b-12d3-a456-426614174000\n"
        "  model: sentence-transformers/all-MiniLM-L6-v2\n"
        "  max_tokens: 512\n"
    )
    _marker_pipeline(project, "touch ran.txt", params=params)
    result = run_auditpipe(project.root, "run")
    assert result.code == 0, result.err
    (payload,) = _payloads(project.root)
    recorded = json.loads(payload)["predicate"]["params"]["train"]
    assert recorded["commit"] == "9fceb02d0ae598e95dc970b74767f19372d61af8"
    assert recorded["max_tokens"] == 512


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("--cmd", f"psql {DATABASE_URL}"), "stages.train.cmd"),
        (("--cmd", f"curl -H x --api-key {API_TOKEN}"), "stages.train.cmd"),
        (("--param", f"db={DATABASE_URL}"), "db"),
        (("--param", "pwd=hunter2"), "pwd"),
        (("--param", f"key={STRAY_AWS_KEY}"), "key"),
    ],
)
def test_record_refuses_secrets_in_cmd_and_params(
    project: Project, args: tuple[str, ...], key: str
) -> None:
    before = ledger_state(project.root)
    result = run_auditpipe(project.root, "record", "--stage", "train", *args)
    assert_bad_input(result, "looks like a secret", repr(key))
    assert "Value error" not in result.err
    assert "hunter2" not in result.err and DB_URL_PASSWORD not in result.err
    assert ledger_state(project.root) == before
    allowed = run_auditpipe(
        project.root, "record", "--stage", "train", *args, "--allow-secret", key
    )
    assert allowed.code == 0, allowed.err


def test_a_variable_named_like_a_secret_in_a_plain_list_is_recorded_by_name(
    project: Project,
) -> None:
    """A plain `env:` list: names the detector knows are secret, whatever the user meant."""
    _marker_pipeline(project, "touch ran.txt", env="[API_TOKEN, SEED, UNSET_TOKEN]")
    assert run_auditpipe(project.root, "run", env=ENV).code == 0
    (payload,) = _payloads(project.root)
    environment = json.loads(payload)["predicate"]["environment"]
    assert environment["variables"] == {"SEED": "42"}
    assert environment["secretVariables"] == {"API_TOKEN": "set", "UNSET_TOKEN": "not set"}


def test_a_path_holding_a_cloud_key_is_refused(project: Project) -> None:
    name = f"data/{STRAY_AWS_KEY}.csv"
    project.gen({name: "a\n1\n"})
    before = ledger_state(project.root)
    result = run_auditpipe(project.root, "record", "--stage", "train", "--dep", name)
    assert_bad_input(result, "path", "an AWS Access Key")
    assert ledger_state(project.root) == before
    allowed = run_auditpipe(
        project.root, "record", "--stage", "train", "--dep", name, "--allow-secret", name
    )
    assert allowed.code == 0, allowed.err


def test_record_stage_refuses_before_the_block_and_records_secret_env_by_name(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import auditpipe
    from auditpipe.errors import SecretError

    monkeypatch.setenv("DB_PASSWORD", DB_PASSWORD)
    monkeypatch.setenv("SEED", "42")
    ran = []
    with (
        pytest.raises(SecretError, match="param 'db' looks like a secret"),
        auditpipe.record_stage("train", params={"db": DATABASE_URL}),
    ):
        ran.append(True)
    assert ran == []
    with auditpipe.record_stage(
        "train", params={"k": 1}, env=["SEED"], secret_env=["DB_PASSWORD"]
    ) as run:
        pass
    (payload,) = _payloads(project.root)
    environment = json.loads(payload)["predicate"]["environment"]
    assert run.entry_id == hashlib.sha256(payload).hexdigest()
    assert environment["variables"] == {"SEED": "42"}
    assert environment["secretVariables"] == {"DB_PASSWORD": "set"}
    assert _leaks(_all_git_objects(project.root)) == []
