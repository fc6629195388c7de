"""``auditpipe fingerprint`` end to end: output, exit codes and messages users rely on."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

import auditpipe.cli.fingerprint_cmd  # noqa: F401  (registers the verb; auditpipe.cli does too)
from auditpipe.cli.fingerprint_cmd import ProgressBar
from tests.conftest import Project, Result

Cli = Callable[..., Result]

# Runs the CLI in a fresh interpreter; optionally drops root privileges after imports,
# so "permission denied" can be tested even though the test-suite runs as root.
RUNNER = """
import os, sys
import auditpipe.cli.fingerprint_cmd
import auditpipe.fingerprint, auditpipe.fingerprint.hashing  # lazy in the command: load as root
from auditpipe.cli import main
import auditpipe.cli.verbs, auditpipe.noop.cli  # main loads these lazily: load them as root
auditpipe.cli.verbs.register()
uid = os.environ.pop("AUDITPIPE_TEST_DROP_TO_UID", None)
if uid is not None:
    os.setgroups([])
    os.setgid(int(uid))
    os.setuid(int(uid))
sys.exit(main(sys.argv[1:]))
"""


def run_subprocess(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def test_prints_sha256_size_and_path(bare_repo: Project, cli: Cli) -> None:
    bare_repo.gen({"models/model.pkl": os.urandom(3000)})
    result = cli("fingerprint", "models/model.pkl", "data/raw.csv")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 2
    digest, size, path = lines[0].split("  ")
    assert (digest, size, path) == (
        sha256sum(bare_repo.root / "models/model.pkl"),
        "3000",
        "models/model.pkl",
    )
    assert lines[1].startswith(f"{sha256sum(bare_repo.root / 'data/raw.csv')}  8  data/raw.csv")
    assert "csv rows=1 columns=2" in lines[1]


def test_json_lists_resource_descriptors(
    bare_repo: Project, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq.write_table(pa.table({"x": [1, 2, None]}), bare_repo.root / "data/t.parquet")
    monkeypatch.chdir(bare_repo.root / "data")  # paths are reported repo-relative wherever we are
    result = cli("fingerprint", "--json", "--content", ".", "t.parquet")
    assert result.code == 0, result.err
    docs = json.loads(result.out)
    assert [d["path"] for d in docs] == ["data", "data/t.parquet"]
    assert docs[0]["kind"] == "directory"
    assert docs[0]["files"] == 2
    table = docs[1]["table"]
    assert table["rows"] == 3
    assert table["schema"] == [{"name": "x", "type": "int64", "nullable": True}]
    assert table["columnStats"] == {"x": {"nullCount": 1, "min": 1, "max": 2}}
    assert len(table["contentDigest"]) == 64


def test_content_flag_adds_the_content_digest(bare_repo: Project, cli: Cli) -> None:
    plain = cli("fingerprint", "data/raw.csv")
    content = cli("fingerprint", "--content", "data/raw.csv")
    assert "content=" not in plain.out
    assert "content=" in content.out


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_parquet_exits_2_naming_the_file(bare_repo: Project, cli: Cli, damage: str) -> None:
    path = bare_repo.root / "data" / "train.parquet"
    pq.write_table(pa.table({"x": list(range(1000))}), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"hello" * 50)
    result = cli("fingerprint", "data/raw.csv", "data/train.parquet")
    assert result.code == 2
    assert "data/train.parquet" in result.err
    assert "Parquet" in result.err
    assert "Traceback" not in result.err
    assert result.out == ""


def test_missing_path_exits_2(bare_repo: Project, cli: Cli) -> None:
    result = cli("fingerprint", "data/missing.csv")
    assert result.code == 2
    assert "data/missing.csv: no such file or directory" in result.err


def test_symlink_escaping_the_repository_exits_2(
    bare_repo: Project, cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere.csv").write_text("a\n1\n")
    (bare_repo.root / "data" / "ext.csv").symlink_to(tmp_path / "elsewhere.csv")
    for target in ("data", "data/ext.csv"):
        result = cli("fingerprint", target)
        assert result.code == 2, target
        assert "data/ext.csv" in result.err
        assert "outside the repository" in result.err


def test_no_path_exits_2_with_usage(bare_repo: Project, cli: Cli) -> None:
    result = cli("fingerprint")
    assert result.code == 2
    assert "usage: auditpipe fingerprint PATH" in result.err


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="auditpipe-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_permission_denied_exits_2(world_readable_dir: Path) -> None:
    secret = world_readable_dir / "secret.bin"
    secret.write_bytes(b"classified")
    secret.chmod(0o000)
    closed = world_readable_dir / "closed"
    closed.mkdir()
    (closed / "x").write_text("x")
    closed.chmod(0o000)
    env = {"AUDITPIPE_TEST_DROP_TO_UID": "65534"} if os.geteuid() == 0 else {}
    try:
        for target in ("secret.bin", "closed"):
            result = run_subprocess(world_readable_dir, "fingerprint", target, env=env)
            assert result.code == 2, result.err
            assert f"{target}: permission denied" in result.err
            assert "Traceback" not in result.err
    finally:
        closed.chmod(0o755)


def test_stat_cache_is_kept_in_git_dir_unless_disabled(bare_repo: Project, cli: Cli) -> None:
    cache = bare_repo.root / ".git" / "auditpipe" / "statcache.sqlite"
    assert cli("fingerprint", "--no-cache", "data").code == 0
    assert not cache.exists()
    assert cli("fingerprint", "data").code == 0
    assert cache.is_file()


def test_works_outside_a_repository_without_a_cache(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    result = cli("fingerprint", "d/f.txt")
    assert result.code == 0, result.err
    assert result.out == f"{sha256sum(tmp_path / 'd/f.txt')}  2  d/f.txt\n"
    assert not any(p.name.endswith(".sqlite") for p in tmp_path.rglob("*"))


def test_cli_in_a_fresh_process(bare_repo: Project) -> None:
    result = run_subprocess(bare_repo.root, "fingerprint", "--json", "data/raw.csv")
    assert result.code == 0, result.err
    assert json.loads(result.out)[0]["sha256"] == sha256sum(bare_repo.root / "data/raw.csv")


def test_progress_bar_appears_only_for_slow_work() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    quick = ProgressBar(console, delay=0.2)
    quick.on_start(1000, "hashing")
    quick.on_advance(1000)
    quick.on_finish()
    time.sleep(0.3)
    assert not quick.shown
    assert buffer.getvalue() == ""

    slow = ProgressBar(console, delay=0.05)
    slow.on_start(1000, "hashing")
    slow.on_advance(400)
    deadline = time.monotonic() + 5
    while not slow.shown and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slow.shown
    slow.on_advance(600)
    slow.on_finish()
    assert not slow.shown
    assert "hashing" in buffer.getvalue()
