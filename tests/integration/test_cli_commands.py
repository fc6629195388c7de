"""The everyday CLI: --version, log, show, init, keys — in a real git repository."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import jsonschema
import pytest

from auditpipe.manifest import STAGE_RUN_V1
from auditpipe.manifest.schema import load as load_schema
from tests.conftest import GIT_ENV, Project, Result, run_auditpipe

Cli = Callable[..., Result]
LEDGER_REF = "refs/heads/auditpipe/ledger"


def record(cli: Cli, *args: str) -> str:
    result = cli("record", *args)
    assert result.code == 0, result.err
    return result.out.strip()


def rev_parse(root: Path, rev: str) -> str:
    proc = subprocess.run(
        ["git", "rev-parse", rev],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return proc.stdout.strip()


@pytest.fixture(autouse=True)
def statements_match_the_schema(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, every statement on its ledger validates against the schema."""
    if "project" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("project")
    cli: Cli = request.getfixturevalue("cli")
    yield
    schema = load_schema(STAGE_RUN_V1)
    listed = cli("log", "--json")
    assert listed.code == 0, listed.err
    for row in json.loads(listed.out):
        shown = cli("show", row["id"], "--json")
        statement = json.loads(shown.out)["statement"]
        jsonschema.validate(statement, schema, cls=jsonschema.Draft202012Validator)


def test_version_flag_prints_the_installed_version(tmp_path: Path) -> None:
    result = run_auditpipe(tmp_path, "--version")
    assert result.code == 0, result.err
    assert result.out.strip() == version("auditpipe")
    assert result.out.strip() == "0.1.0"  # pyproject.toml's version


@pytest.fixture
def runs(project: Project, cli: Cli) -> list[str]:
    """Four runs, oldest first: prepare, train, train, evaluate."""
    return [
        record(cli, "--stage", "prepare", "--out", "data/raw.csv"),
        record(cli, "--stage", "train", "--param", "lr=0.1", "--out", "src/train.py"),
        record(cli, "--stage", "train", "--param", "lr=0.2", "--out", "src/train.py"),
        record(cli, "--stage", "evaluate", "--metric", "acc=0.8", "--dep", "src/train.py"),
    ]


def test_log_json_newest_first_and_limited(runs: list[str], cli: Cli) -> None:
    result = cli("log", "-n", "2", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [r["id"] for r in rows] == [runs[3], runs[2]]
    assert [r["stage"] for r in rows] == ["evaluate", "train"]
    everything = json.loads(cli("log", "--json").out)
    assert [r["id"] for r in everything] == runs[::-1]


def test_log_rows_describe_the_entry(project: Project, runs: list[str], cli: Cli) -> None:
    row = json.loads(cli("log", "--json").out)[-1]
    assert row["id"] == runs[0]
    assert row["kind"] == "stage-run"
    assert row["status"] == "succeeded"
    keyid = next((project.root / "policies" / "keys").glob("*.pem")).stem
    assert row["signer"] == keyid
    raw_sha = hashlib.sha256((project.root / "data/raw.csv").read_bytes()).hexdigest()
    assert row["subjects"] == [{"name": "data/raw.csv", "sha256": raw_sha}]
    # the commit it reports is the ledger commit that added it
    assert row["commit"] == rev_parse(project.root, f"{LEDGER_REF}~3")


def test_log_stage_filter(runs: list[str], cli: Cli) -> None:
    rows = json.loads(cli("log", "--stage", "train", "--json").out)
    assert [r["id"] for r in rows] == [runs[2], runs[1]]
    assert {r["stage"] for r in rows} == {"train"}
    assert json.loads(cli("log", "--stage", "deploy", "--json").out) == []
    limited = json.loads(cli("log", "--stage", "train", "-n", "1", "--json").out)
    assert [r["id"] for r in limited] == [runs[2]]


def test_log_text_output(runs: list[str], cli: Cli) -> None:
    result = cli("log")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [line[:12] for line in lines] == [i[:12] for i in runs[::-1]]
    assert "evaluate" in lines[0] and "succeeded" in lines[0]


def test_log_on_an_empty_ledger(project: Project, cli: Cli) -> None:
    result = cli("log", "--json")
    assert (result.code, json.loads(result.out)) == (0, [])
    text = cli("log")
    assert (text.code, text.out, text.err.strip()) == (0, "", "no entries")


def test_show_by_unique_prefix(runs: list[str], cli: Cli) -> None:
    for entry_id in runs:
        by_prefix = cli("show", entry_id[:8], "--json")
        assert by_prefix.code == 0, by_prefix.err
        assert json.loads(by_prefix.out) == json.loads(cli("show", entry_id, "--json").out)
        assert json.loads(by_prefix.out)["id"] == entry_id
    upper = cli("show", runs[0][:8].upper(), "--json")
    assert json.loads(upper.out)["id"] == runs[0]


def test_show_text_output(runs: list[str], cli: Cli) -> None:
    result = cli("show", runs[1][:8])
    assert result.code == 0, result.err
    assert f"entry     {runs[1]}" in result.out
    assert f"auditpipe/ledger:entries/{runs[1][:2]}/{runs[1]}.sigstore.json" in result.out
    assert '"lr": 0.1' in result.out


def _init_state(project: Project) -> dict[str, object]:
    keys_dir = project.root / "policies" / "keys"
    return {
        "ledger": rev_parse(project.root, LEDGER_REF),
        "trusted keys": {p.name: p.read_bytes() for p in sorted(keys_dir.iterdir())},
        "auditpipe.yaml": (project.root / "auditpipe.yaml").read_bytes(),
        "private keys": {
            p.name: p.read_bytes() for p in sorted((project.config_dir / "keys").iterdir())
        },
        "verified head": (project.root / ".git/auditpipe/verified-head").read_bytes(),
    }


def test_init_twice_changes_nothing(project: Project, cli: Cli) -> None:
    record(cli, "--stage", "train")
    before = _init_state(project)
    assert len(before["trusted keys"]) == 1  # type: ignore[arg-type]
    again = cli("init")
    assert again.code == 0, again.err
    assert "already initialized; nothing to do" in again.out
    assert _init_state(project) == before


def test_init_does_not_overwrite_an_edited_pipeline(project: Project, cli: Cli) -> None:
    (project.root / "auditpipe.yaml").write_text("stages:\n  mine: {cmd: echo}\n")
    assert cli("init").code == 0
    assert (project.root / "auditpipe.yaml").read_text() == "stages:\n  mine: {cmd: echo}\n"


def test_keys_export_trust_round_trip(project: Project, cli: Cli, tmp_path: Path) -> None:
    generated = cli("keys", "generate", "--name", "ci", "--json")
    assert generated.code == 0, generated.err
    ci_keyid = json.loads(generated.out)["keyid"]

    listed = json.loads(cli("keys", "list", "--json").out)
    assert {k["name"] for k in listed} == {"default", "ci"}
    assert next(k for k in listed if k["name"] == "ci") == {
        "name": "ci",
        "keyid": ci_keyid,
        "encrypted": False,
    }

    entry_id = record(cli, "--stage", "train", "--key", "ci")
    untrusted = cli("verify", "--ledger")
    assert untrusted.code == 0, untrusted.err  # listed, not a broken ledger
    assert f"untrusted: {entry_id}" in untrusted.out and "not trusted" in untrusted.out

    exported = tmp_path / "ci.pub"
    assert cli("keys", "export", "--name", "ci", "-o", str(exported)).code == 0
    assert exported.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert cli("keys", "export", "--name", "ci").out.encode() == exported.read_bytes()

    trusted = cli("keys", "trust", str(exported))
    assert trusted.code == 0, trusted.err
    assert ci_keyid in trusted.out
    assert (project.root / "policies" / "keys" / f"{ci_keyid}.pem").read_bytes() == (
        exported.read_bytes()
    )
    verified = cli("verify", "--ledger")
    assert verified.code == 0, verified.err
    assert "ledger OK: 1 entries" in verified.out
    assert ci_keyid[:12] in verified.out


def test_keys_list_text_and_empty(bare_repo: Project, cli: Cli) -> None:
    empty = cli("keys", "list", "--json")
    assert (empty.code, json.loads(empty.out)) == (0, [])
    assert "no keys yet" in cli("keys", "list").out
    assert cli("keys", "generate").code == 0
    name, keyid, encrypted = cli("keys", "list").out.split()
    assert (name, encrypted) == ("default", "unencrypted")
    assert keyid == json.loads(cli("keys", "list", "--json").out)[0]["keyid"]


def test_keys_generate_refuses_to_overwrite(project: Project, cli: Cli) -> None:
    key_file = project.config_dir / "keys" / "default.key"
    before = key_file.read_bytes()
    result = cli("keys", "generate")
    assert result.code == 2
    assert "already exists" in result.err
    assert key_file.read_bytes() == before
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_record_a_float_metric_beyond_1e21(project: Project, cli: Cli) -> None:
    """Control for the case below: exponent-form floats are recorded fine."""
    entry_id = record(cli, "--stage", "train", "--metric", "flops=1e21")
    statement = json.loads(cli("show", entry_id, "--json").out)["statement"]
    assert statement["predicate"]["metrics"] == {"flops": 1e21}


def test_record_a_large_float_metric(project: Project, cli: Cli) -> None:
    entry_id = record(cli, "--stage", "train", "--metric", "flops=1e18")
    statement = json.loads(cli("show", entry_id, "--json").out)["statement"]
    assert statement["predicate"]["metrics"] == {"flops": 1e18}
