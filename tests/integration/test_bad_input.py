"""Bad input or environment: exit 2, a one-paragraph message, no traceback, no append.

Every case runs the CLI as a real subprocess (``python -m auditpipe``), so what is
asserted is exactly what a user's terminal and a CI log would show.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from auditpipe.ledger import Ledger
from auditpipe.manifest import canonical_bytes
from auditpipe.manifest.statement import SignedStatement
from auditpipe.pipeline.recorder import RunFacts, build
from auditpipe.signing import KeyStore, LocalSigner
from tests.conftest import GIT_ENV, Project, Result, git, run_auditpipe

Cli = Callable[..., Result]
LEDGER_REF = "refs/heads/auditpipe/ledger"


def assert_bad_input(result: Result, *needles: str) -> None:
    """Exit 2 with one short paragraph on stderr naming what is wrong."""
    assert result.code == 2, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    text = result.err.strip()
    assert text.startswith("error: "), text
    assert "\n\n" not in text, text  # one paragraph
    assert len(text.splitlines()) <= 8, text
    assert result.out == ""
    for needle in needles:
        assert needle in result.err, result.err


def ledger_state(root: Path) -> str:
    """The ledger ref and its commit count, as plain git reports them."""
    head = git(root, "rev-parse", "--verify", "-q", LEDGER_REF, check=False).strip()
    count = git(root, "rev-list", "--count", head).strip() if head else "0"
    return f"{head or '-'} {count}"


def recorded(result: Result) -> str:
    assert result.code == 0, result.err
    return result.out.strip()


# -- repository -------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("log",), ("record", "--stage", "train"), ("init",)])
def test_not_a_git_repository(tmp_path: Path, isolated_env: Path, args: tuple[str, ...]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run_auditpipe(plain, *args)
    assert_bad_input(result, "not a git repository", str(plain), "git init")
    assert not (plain / ".git").exists()


def test_bare_repository(tmp_path: Path, isolated_env: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    for args in (("record", "--stage", "train"), ("init",)):
        result = run_auditpipe(bare, *args)
        assert_bad_input(result, "bare repository", "clone")
    assert git(bare, "for-each-ref").strip() == ""


# -- keys ----------------------------------------------------------------------------------


def test_record_before_any_key_exists(bare_repo: Project) -> None:
    result = run_auditpipe(bare_repo.root, "record", "--stage", "train")
    assert_bad_input(result, "no signing key named 'default'", "auditpipe keys generate")
    assert ledger_state(bare_repo.root) == "- 0"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01 this is not a key \xff", "corrupt or not a PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "corrupt"),
        (None, "cannot read signing key"),  # a directory where the key file should be
    ],
)
def test_corrupt_or_unreadable_key(project: Project, content: bytes | None, message: str) -> None:
    key_file = project.config_dir / "keys" / "default.key"
    key_file.unlink()
    if content is None:
        key_file.mkdir()
    else:
        key_file.write_bytes(content)
    before = ledger_state(project.root)
    result = run_auditpipe(project.root, "record", "--stage", "train")
    assert_bad_input(result, message, str(key_file))
    assert ledger_state(project.root) == before


@pytest.fixture
def locked_key(project: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A second key, ``locked``, encrypted with the passphrase ``correct horse``."""
    monkeypatch.setenv("KEY_PW", "correct horse")
    assert cli("keys", "generate", "--name", "locked", "--passphrase-env", "KEY_PW").code == 0
    monkeypatch.delenv("KEY_PW")
    assert b"ENCRYPTED" in (project.config_dir / "keys" / "locked.key").read_bytes()
    return project


def test_encrypted_key_with_right_passphrase_records(locked_key: Project) -> None:
    """Control for the passphrase cases below."""
    result = run_auditpipe(
        locked_key.root,
        "record",
        "--stage",
        "train",
        "--key",
        "locked",
        env={"AUDITPIPE_PASSPHRASE": "correct horse"},
    )
    assert len(recorded(result)) == 64


def test_wrong_passphrase(locked_key: Project) -> None:
    before = ledger_state(locked_key.root)
    result = run_auditpipe(
        locked_key.root,
        "record",
        "--stage",
        "train",
        "--key",
        "locked",
        env={"AUDITPIPE_PASSPHRASE": "battery staple"},
    )
    assert_bad_input(result, "wrong passphrase", "'locked'", "locked.key")
    assert "battery staple" not in result.err
    assert ledger_state(locked_key.root) == before


def test_missing_passphrase_for_encrypted_key(locked_key: Project) -> None:
    result = run_auditpipe(locked_key.root, "record", "--stage", "train", "--key", "locked")
    assert_bad_input(result, "encrypted and no passphrase", "AUDITPIPE_PASSPHRASE")


def test_passphrase_env_variable_not_set(locked_key: Project) -> None:
    result = run_auditpipe(
        locked_key.root,
        "record",
        "--stage",
        "train",
        "--key",
        "locked",
        "--passphrase-env",
        "NO_SUCH_VARIABLE_X",
    )
    assert_bad_input(result, "NO_SUCH_VARIABLE_X", "not set")


def test_corrupt_trusted_key_file(project: Project) -> None:
    bad = project.root / "policies" / "keys" / ("ab" * 32 + ".pem")
    bad.write_text("not a public key\n")
    result = run_auditpipe(project.root, "verify", "--ledger")
    assert_bad_input(result, "not a PEM public key", bad.name)


# -- show ------------------------------------------------------------------------------------


def test_show_unknown_id(project: Project) -> None:
    recorded(run_auditpipe(project.root, "record", "--stage", "train"))
    result = run_auditpipe(project.root, "show", "0" * 64)
    assert_bad_input(result, f"no ledger entry {'0' * 64}", "auditpipe log")


@pytest.mark.parametrize("prefix", ["ab", "xyz1", "not-an-id"])
def test_show_prefix_that_is_not_an_id(project: Project, prefix: str) -> None:
    result = run_auditpipe(project.root, "show", prefix)
    assert_bad_input(result, "is not an entry id or prefix", "at least 4 hex characters")


def _colliding_statements(ledger: Ledger) -> tuple[SignedStatement, SignedStatement]:
    """Two valid statements whose ids share their first 4 hex characters.

    Found by varying a param (about 300 tries by the birthday bound) and hashing
    only: signing and appending 300 entries would be needlessly slow.
    """
    data = json.loads(build(ledger, RunFacts(stage="train")).raw)
    seen: dict[str, bytes] = {}
    for n in itertools.count():
        data["predicate"]["params"] = {"n": n}
        raw = canonical_bytes(data)
        prefix = hashlib.sha256(raw).hexdigest()[:4]
        if prefix in seen:
            return SignedStatement.parse(seen[prefix]), SignedStatement.parse(raw)
        seen[prefix] = raw
    raise AssertionError("unreachable")


def test_show_ambiguous_prefix(project: Project) -> None:
    signer = LocalSigner(KeyStore(project.config_dir / "keys").private_key(), "default")
    with Ledger.open(str(project.root)) as ledger:
        first, second = _colliding_statements(ledger)
        ids = [ledger.append(signer.sign(s.raw)) for s in (first, second)]
    assert ids[0][:4] == ids[1][:4] and ids[0] != ids[1]

    result = run_auditpipe(project.root, "show", ids[0][:4])
    assert_bad_input(result, f"id prefix {ids[0][:4]} is ambiguous (2 entries)", *ids)

    # one more character than they share resolves each of them
    shared = next(i for i, (a, b) in enumerate(zip(*ids, strict=True)) if a != b)
    for entry_id in ids:
        shown = run_auditpipe(project.root, "show", entry_id[: max(shared + 1, 4)], "--json")
        assert shown.code == 0, shown.err
        assert json.loads(shown.out)["id"] == entry_id


# -- record's own arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--param", "lr"), "--param 'lr' is not KEY=VALUE"),
        (("--param", "=0.1"), "--param '=0.1' is not KEY=VALUE"),
        (("--metric", "acc"), "--metric 'acc' is not KEY=VALUE"),
        (("--param", "a=1", "--param", "a.b=2"), "key 'a.b' conflicts"),
        (("--dep", "data/missing.csv"), "data/missing.csv: no such file or directory"),
        (("--out", "../outside.txt"), "is outside the repository"),
        (("--param", "n=123456789012345678901"), "record very large integers as strings"),
        (("--stage", ""), "stage: String should have at least 1 character"),
    ],
)
def test_bad_record_arguments(project: Project, args: tuple[str, ...], message: str) -> None:
    before = ledger_state(project.root)
    stage = () if "--stage" in args else ("--stage", "train")
    result = run_auditpipe(project.root, "record", *stage, *args)
    assert_bad_input(result, message)
    assert ledger_state(project.root) == before


def test_conflicting_params_are_refused_in_either_order(project: Project) -> None:
    before = ledger_state(project.root)
    result = run_auditpipe(
        project.root, "record", "--stage", "train", "--param", "a.b=2", "--param", "a=1"
    )
    assert_bad_input(result, "conflicts")
    assert ledger_state(project.root) == before


@pytest.mark.parametrize(
    ("param", "name"),
    [
        ("db_password=hunter2-XYZ", "'db_password'"),
        ("API_KEY=hunter2-XYZ", "'API_KEY'"),
        ("db.token=hunter2-XYZ", "'db.token'"),
        ("aws.secret.region=hunter2", "'aws.secret'"),  # a secret-named parent counts too
    ],
)
def test_param_named_like_a_secret_is_refused(project: Project, param: str, name: str) -> None:
    before = ledger_state(project.root)
    result = run_auditpipe(project.root, "record", "--stage", "train", "--param", param)
    assert_bad_input(result, "looks like a secret", name)
    assert "hunter2" not in result.err  # the value itself is never echoed
    assert ledger_state(project.root) == before


def test_param_with_an_innocent_name_is_recorded(project: Project) -> None:
    """Control for the secret check: ordinary names pass."""
    entry_id = recorded(
        run_auditpipe(project.root, "record", "--stage", "train", "--param", "db.host=x")
    )
    shown = json.loads(run_auditpipe(project.root, "show", entry_id, "--json").out)
    assert shown["statement"]["predicate"]["params"] == {"db": {"host": "x"}}


def test_metric_given_as_the_json_string_nan_is_recorded_verbatim(project: Project) -> None:
    """``loss="NaN"`` is a JSON string: recorded as that string, which is honest."""
    entry_id = recorded(
        run_auditpipe(project.root, "record", "--stage", "train", "--metric", 'loss="NaN"')
    )
    shown = json.loads(run_auditpipe(project.root, "show", entry_id, "--json").out)
    assert shown["statement"]["predicate"]["metrics"] == {"loss": "NaN"}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_metric_is_refused(project: Project, value: str) -> None:
    before = ledger_state(project.root)
    result = run_auditpipe(project.root, "record", "--stage", "train", "--metric", f"loss={value}")
    assert_bad_input(result, "non-finite")
    assert ledger_state(project.root) == before


def test_verify_without_a_target(project: Project) -> None:
    assert_bad_input(run_auditpipe(project.root, "verify"), "nothing to verify", "--ledger")


# -- a malformed ledger must not crash the readers ------------------------------------------


def plant_on_ledger(root: Path, path: str, data: bytes) -> None:
    """Commit one file onto the ledger branch with git plumbing (own index file)."""
    env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(root.parent / "plant.index")}

    def plumb(*args: str, stdin: bytes | None = None) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=root, env=env, input=stdin, capture_output=True, check=True
        )
        return proc.stdout.decode().strip()

    head = plumb("rev-parse", LEDGER_REF)
    blob = plumb("hash-object", "-w", "--stdin", stdin=data)
    plumb("read-tree", head)
    plumb("update-index", "--index-info", stdin=f"100644 {blob}\t{path}\n".encode())
    commit = plumb("commit-tree", plumb("write-tree"), "-p", head, "-m", "planted")
    plumb("update-ref", LEDGER_REF, commit, head)


def test_log_with_a_malformed_entry_on_the_ledger(project: Project) -> None:
    bogus = hashlib.sha256(b"x").hexdigest()
    plant_on_ledger(project.root, f"entries/{bogus[:2]}/{bogus}.sigstore.json", b"not json")
    assert_bad_input(run_auditpipe(project.root, "log"), bogus, "malformed")


def test_log_with_a_deeply_nested_entry_on_the_ledger(project: Project) -> None:
    payload = b"[" * 100_000
    signer = LocalSigner(KeyStore(project.config_dir / "keys").private_key(), "default")
    entry_id = hashlib.sha256(payload).hexdigest()
    # planted with plain git: Ledger.append would refuse the payload (with the same crash)
    plant_on_ledger(
        project.root, f"entries/{entry_id[:2]}/{entry_id}.sigstore.json", signer.sign(payload)
    )
    assert_bad_input(run_auditpipe(project.root, "log"), entry_id)
