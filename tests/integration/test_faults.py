"""Faults are messages (issue 13, item 3): permission denied, a full disk, a
read-only disk, too many open files and a file that vanishes while it is read
end in exit 2 with the path and what to do -- no traceback, no temporary files
left behind, the ledger untouched.

Each test uses the real fault where this machine can give it (mode bits that
bind a root without DAC capabilities, a small tmpfs, a low RLIMIT_NOFILE) and
falls back to injecting it at the OS-call layer of the subprocess otherwise;
the injected variants also run on their own, so both paths are always tested.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Project, Result, git
from tests.integration import faults
from tests.integration.test_bad_input import ledger_state

Cli = Callable[..., Result]


def assert_fault(result: Result, path: str, what: str, todo: str) -> None:
    """Exit 2, the path, what went wrong and what to do; no traceback."""
    assert result.code == 2, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    assert "error: " in result.err, result.err  # after any warnings (a stat cache set aside)
    assert path in result.err, result.err
    assert what in result.err, result.err
    assert todo in result.err, result.err


def no_temporary_files(root: Path) -> None:
    stray = [p for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("tmp_obj")]
    assert stray == [], stray


@pytest.fixture
def recorded(project: Project, cli: Cli) -> Project:
    """A project whose model has one signed run from two sources."""
    project.gen(
        {
            "models/model.bin": "weights\n",
            "auditpipe.yaml": "stages:\n  train:\n    cmd: touch x.bin\n"
            "    params: [train]\n    outs: [x.bin]\n",
            "params.yaml": "train:\n  k: 1\n",
        }
    )
    result = cli(
        "record",
        "--stage",
        "train",
        "--dep",
        "src/train.py",
        "--dep",
        "data/raw.csv",
        "--out",
        "models/model.bin",
    )
    assert result.code == 0, result.err
    return project


def _trusted_pem(root: Path) -> str:
    (pem,) = (root / "policies" / "keys").glob("*.pem")
    return pem.relative_to(root).as_posix()


# -- permission denied ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "args"),
    [
        ("data/raw.csv", ("verify", "models/model.bin")),
        ("data/raw.csv", ("gate", "--policy", "policies/default.yaml", "models/model.bin")),
        ("src/train.py", ("verify", "models/model.bin")),
        ("PEM", ("verify", "models/model.bin")),
        ("PEM", ("verify", "--ledger")),
        (".git/auditpipe/verified-head", ("verify", "--ledger")),
        ("auditpipe.yaml", ("status",)),
        ("params.yaml", ("run",)),
    ],
)
@pytest.mark.parametrize("mode", ["real", "injected"])
def test_an_unreadable_file_is_named_with_what_to_do(
    recorded: Project, target: str, args: tuple[str, ...], mode: str
) -> None:
    root = recorded.root
    assert faults.run(root, "verify", "--ledger").code == 0  # writes verified-head
    target = _trusted_pem(root) if target == "PEM" else target
    before = ledger_state(root)
    prefix = faults.permissions_bind() if mode == "real" else None
    if prefix is None:
        result = faults.run(root, *args, fault=f"EACCES:read:{target}")
    else:
        (root / target).chmod(0)
        try:
            result = faults.run(root, *args, prefix=prefix)
        finally:
            (root / target).chmod(0o644)
    assert_fault(result, target, "permission denied", "check its permissions")
    assert ledger_state(root) == before


# -- a full disk ------------------------------------------------------------------------


@pytest.fixture
def on_small_disk(recorded: Project, tmp_path: Path) -> Iterator[tuple[Project, bool]]:
    """The project copied onto a small tmpfs (a plain directory where mounting is
    not allowed); the bool says whether it is a real tmpfs."""
    disk = tmp_path / "disk"
    with faults.tmpfs(disk) as mounted:
        shutil.copytree(recorded.root, disk / "repo", symlinks=True)
        yield Project(disk / "repo", recorded.config_dir), mounted


@pytest.mark.parametrize("mode", ["real", "injected"])
def test_verify_ledger_on_a_full_disk_leaves_no_temporary_file(
    on_small_disk: tuple[Project, bool], mode: str
) -> None:
    project, mounted = on_small_disk
    root = project.root
    (root / ".git" / "auditpipe" / "verified-head").unlink(missing_ok=True)
    if mode == "real" and mounted:
        faults.fill(root.parent)
        result = faults.run(root, "verify", "--ledger")
    else:
        result = faults.run(root, "verify", "--ledger", fault="ENOSPC:write:verified-head")
    assert_fault(result, ".git/auditpipe/verified-head", "no space left", "free space")
    no_temporary_files(root / ".git")


@pytest.mark.parametrize("mode", ["real", "injected"])
def test_record_on_a_full_disk_leaves_the_ledger_untouched(
    on_small_disk: tuple[Project, bool], mode: str
) -> None:
    project, mounted = on_small_disk
    root = project.root
    project.gen({"models/other.bin": "other weights\n"})
    before = ledger_state(root)
    args = ("record", "--stage", "evaluate", "--out", "models/other.bin")
    if mode == "real" and mounted:
        faults.fill(root.parent)
        result = faults.run(root, *args)
    else:
        result = faults.run(root, *args, fault="ENOSPC:write:.git/objects")
    assert_fault(result, ".git/objects", "no space left", "free space")
    assert "the ledger is unchanged" in result.err
    (root.parent / "filler").unlink(missing_ok=True)
    assert ledger_state(root) == before
    no_temporary_files(root / ".git")
    git(root, "fsck", "--strict")
    assert faults.run(root, "verify", "--ledger").code == 0


# -- a read-only disk -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["real", "injected"])
def test_run_on_a_read_only_disk_fails_before_any_command(
    on_small_disk: tuple[Project, bool], mode: str, tmp_path: Path
) -> None:
    project, mounted = on_small_disk
    root = project.root
    marker = tmp_path / "ran"
    project.gen(
        {"auditpipe.yaml": f"stages:\n  touch:\n    cmd: touch {marker}\n    outs: [x.txt]\n"}
    )
    before = ledger_state(root)
    if mode == "real" and mounted and faults.remount_read_only(root.parent):
        results = [faults.run(root, "run"), faults.run(root, "record", "--stage", "t")]
    else:
        fault = "EROFS:write:.git/auditpipe"
        results = [
            faults.run(root, "run", fault=fault),
            faults.run(root, "record", "--stage", "t", fault=fault),
        ]
    for result in results:
        assert_fault(result, ".git/auditpipe", "read-only file system", "writable clone")
    assert not marker.exists(), "a stage command ran on a ledger that cannot be written"
    assert ledger_state(root) == before


# -- too many open files ----------------------------------------------------------------


@pytest.mark.parametrize("spare", [0, 1])
def test_too_many_open_files_is_a_message_not_contention(recorded: Project, spare: int) -> None:
    """A real RLIMIT_NOFILE, set once auditpipe is imported, leaving ``spare`` descriptors."""
    root = recorded.root
    before = ledger_state(root)
    result = faults.run(
        root, "record", "--stage", "evaluate", "--dep", "data/raw.csv", fault=f"NOFILE:{spare}"
    )
    assert_fault(result, "", "too many open files", "ulimit -n")
    assert "kept changing" not in result.err
    assert ledger_state(root) == before


# -- a file that vanishes while it is read ------------------------------------------------


def test_a_file_that_vanishes_while_hashing_is_named(recorded: Project) -> None:
    root = recorded.root
    recorded.gen({f"data/part-{i}.csv": f"{i}\n" for i in range(20)})
    before = ledger_state(root)
    commands = (("fingerprint", "--no-cache", "data"), ("record", "--stage", "x", "--dep", "data"))
    for args in commands:
        result = faults.run(root, *args, fault="VANISH:data/part-7.csv")
        assert_fault(result, "data/part-7.csv", "vanished", "run it again")
        recorded.gen({"data/part-7.csv": "7\n"})
    assert ledger_state(root) == before
