"""`auditpipe ledger push/pull` against a real remote: a bare repository served by
`git daemon` on 127.0.0.1, clones made by the real git binary, entries signed and
appended in-process. The fixtures here are shared by the other test_ledger_sync_*."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import auditpipe.cli.sync_cmds  # noqa: F401  (registers `auditpipe ledger ...`)
from auditpipe.ledger import sync
from auditpipe.ledger.layout import entry_path_str
from auditpipe.ledger.ledger import Ledger
from auditpipe.ledger.state import read_verified_head
from auditpipe.ledger.verify import verify_ledger
from auditpipe.pipeline.recorder import RunFacts, build, sign_and_append
from auditpipe.signing.factory import local_signer, verifier_for
from auditpipe.trust.read import open_trust
from auditpipe.workspace import Workspace
from tests.conftest import Project, Result, git

LEDGER = "refs/heads/auditpipe/ledger"
# git-daemon itself rather than the `git` wrapper, so that the parent-death
# signal below reaches the process that listens.
GIT_DAEMON = os.path.join(
    subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout.strip(),
    "git-daemon",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class GitServer:
    """Bare repositories under ``base``, served read-write by `git daemon`."""

    base: Path
    port: int

    def url(self, name: str = "ledger.git") -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def bare(self, name: str = "ledger.git") -> Path:
        return self.base / name


@pytest.fixture
def daemon(tmp_path: Path, isolated_env: Path) -> Iterator[GitServer]:
    base = tmp_path / "served"
    base.mkdir()
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [GIT_DAEMON, "--reuseaddr", "--export-all", "--enable=receive-pack",
             f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}", str(base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None and time.monotonic() < deadline:
            break
        _stop(proc)
    else:
        pytest.fail("git daemon did not start")
    try:
        yield GitServer(base, port)
    finally:
        _stop(proc)


def _die_with_parent() -> None:
    # Even if pytest itself is killed (no teardown), the daemon does not outlive it.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # The daemon forks one child per connection, all in its own process group.
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture
def origin(project: Project, daemon: GitServer) -> GitServer:
    """``project`` published to the daemon: its main branch and ledger (empty root)."""
    bare = daemon.bare()
    git(daemon.base, "init", "-q", "--bare", "-b", "main", bare.name)
    git(bare, "config", "receive.denyNonFastForwards", "true")
    git(bare, "config", "core.logAllRefUpdates", "true")
    project.git("remote", "add", "origin", daemon.url())
    project.git("push", "-q", "origin", "main", "auditpipe/ledger")
    return daemon


def clone(server: GitServer, dest: Path) -> Path:
    """A `git clone` whose ledger came from the remote (as `auditpipe init` will do)."""
    git(dest.parent, "clone", "-q", server.url(), dest.name)
    assert sync.fetch_existing_ledger(Workspace.discover(dest)) is True
    return dest


def append(root: Path, tag: str, count: int) -> list[str]:
    signer = local_signer()
    ids = []
    with Ledger(Workspace.discover(root)) as ledger:
        for n in range(count):
            facts = RunFacts(stage=tag, command=f"step {n}", params={"n": n, "tag": tag})
            ids.append(sign_and_append(ledger, signer, build(ledger, facts)))
    return ids


def head(root: Path) -> str:
    return git(root, "rev-parse", LEDGER).strip()


def entries_at(repo: Path, rev: str) -> set[str]:
    listing = git(repo, "ls-tree", "-r", "--name-only", rev, "--", "entries")
    return {Path(p).name.removesuffix(".sigstore.json") for p in listing.split()}


def verify(root: Path) -> tuple[int, list[str]]:
    workspace = Workspace.discover(root)
    with Ledger(workspace) as ledger:
        report = verify_ledger(ledger.store, verifier_for(open_trust(workspace, None)))
    return report.entries, [p.describe() for p in report.problems]


@pytest.fixture
def cli_in(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    def run(root: Path, *args: str) -> Result:
        monkeypatch.chdir(root)
        return cli(*args)

    return run


def test_push_then_a_fresh_clone_takes_the_remote_ledger(
    project: Project, origin: GitServer, tmp_path: Path, cli_in: Callable[..., Result]
) -> None:
    ids = append(project.root, "train", 3)
    result = cli_in(project.root, "ledger", "push")
    assert result.code == 0, result.err
    assert "pushed 3 entries to origin" in result.out
    assert git(origin.bare(), "rev-parse", LEDGER).strip() == head(project.root)

    fresh = clone(origin, tmp_path / "fresh")
    assert head(fresh) == head(project.root)
    assert verify(fresh) == (3, [])
    assert read_verified_head(Workspace.discover(fresh).state_dir) == head(fresh).encode()
    assert sync.fetch_existing_ledger(Workspace.discover(fresh)) is False
    # Only the ledger ref and auditpipe's private refs were written; the worktree is clean.
    refs = set(git(fresh, "for-each-ref", "--format=%(refname)").split())
    assert {r for r in refs if not r.startswith("refs/remotes/origin/")} == {
        "refs/heads/main",
        LEDGER,
        "refs/auditpipe/remotes/origin/ledger",
    }
    assert git(fresh, "status", "--porcelain") == ""
    assert cli_in(fresh, "show", ids[0][:12]).code == 0

    again = cli_in(fresh, "ledger", "pull")
    assert again.code == 0, again.err
    assert "up to date" in again.out


def test_both_sides_appended_pull_replays_local_entries_onto_the_remote(
    project: Project, origin: GitServer, tmp_path: Path, cli_in: Callable[..., Result]
) -> None:
    a, b = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    from_a = append(a, "prepare", 2)
    from_b = append(b, "train", 3)
    b_before = head(b)
    assert cli_in(a, "ledger", "push").code == 0
    remote_after_a = head(a)

    pulled = cli_in(b, "ledger", "pull", "--json")
    assert pulled.code == 0, pulled.err
    assert '"received": 2' in pulled.out and '"replayed": 3' in pulled.out
    # Pull never writes to the remote; the union sits on top of the remote's head.
    assert git(origin.bare(), "rev-parse", LEDGER).strip() == remote_after_a
    git(b, "merge-base", "--is-ancestor", remote_after_a, LEDGER)
    assert entries_at(b, LEDGER) == set(from_a) | set(from_b)
    assert verify(b) == (5, [])
    # One commit per replayed entry: same blob, author kept, origin named.
    log = git(b, "log", "--format=%H%x00%x00%B%x01", f"{remote_after_a}..{LEDGER}")
    commits = [c.split("\0") for c in log.split("\x01") if c.strip()]
    assert len(commits) == 3
    # Each replayed commit keeps its original's author and time (b's three
    # appends may straddle a second, so compare them as a whole, not to one).
    original = git(b, "log", "-3", "--format=%an <%ae> %at", b_before).splitlines()
    replayed = [
        git(b, "log", "-1", "--format=%an <%ae> %at", sha.strip()).strip()
        for sha, _a, _b in commits
    ]
    assert sorted(replayed) == sorted(original)
    for _sha, _author, body in commits:
        assert "Replayed-from: " in body
    for entry_id in from_b:
        blob = git(b, "rev-parse", f"{LEDGER}:{entry_path_str(entry_id)}")
        assert blob == git(b, "rev-parse", f"{b_before}:{entry_path_str(entry_id)}")

    pushed = cli_in(b, "ledger", "push")
    assert pushed.code == 0, pushed.err
    assert "pushed 3 entries" in pushed.out
    assert cli_in(a, "ledger", "pull").code == 0
    assert head(a) == head(b) == git(origin.bare(), "rev-parse", LEDGER).strip()
    assert verify(a) == (5, [])
    for repo in (a, b, origin.bare()):
        git(repo, "fsck", "--strict")


def test_a_clone_that_started_its_own_ledger_joins_the_shared_one(
    project: Project, origin: GitServer, tmp_path: Path, cli_in: Callable[..., Result]
) -> None:
    shared = append(project.root, "shared", 2)
    assert cli_in(project.root, "ledger", "push").code == 0
    published = head(project.root)
    # A clone that ran `auditpipe init` without fetching: its own empty root commit.
    lone = tmp_path / "lone"
    git(tmp_path, "clone", "-q", origin.url(), lone.name)
    with Ledger(Workspace.discover(lone)) as ledger:
        assert ledger.ensure_branch()
    mine = append(lone, "mine", 1)

    pushed = cli_in(lone, "ledger", "push")
    assert pushed.code == 0, pushed.err
    assert entries_at(origin.bare(), LEDGER) == {*shared, *mine}
    git(origin.bare(), "merge-base", "--is-ancestor", published, LEDGER)  # fast-forward only
    assert verify(lone) == (3, [])
    assert cli_in(project.root, "ledger", "pull").code == 0
    assert head(project.root) == head(lone)


def _rewrite_without(server: GitServer, work: Path, entry_id: str) -> None:
    """Force-push a history that never had ``entry_id`` (its later commits rebased)."""
    git(work.parent, "clone", "-q", server.url(), work.name)
    git(work, "checkout", "-q", "-b", "forged", "origin/auditpipe/ledger")
    added = git(work, "log", "--format=%H", f"--grep=Entry: {entry_id}", "forged").split()
    assert len(added) == 1
    git(work, "rebase", "-q", "--onto", f"{added[0]}^", added[0], "forged")
    git(server.bare(), "config", "receive.denyNonFastForwards", "false")
    git(work, "push", "-q", "--force", "origin", "forged:auditpipe/ledger")


@pytest.mark.parametrize("how", ["rolled-back", "rewritten"])
def test_a_remote_that_lost_an_entry_is_refused(
    how: str,
    project: Project,
    origin: GitServer,
    tmp_path: Path,
    cli_in: Callable[..., Result],
) -> None:
    a = clone(origin, tmp_path / "a")
    ids = append(a, "train", 3)
    assert cli_in(a, "ledger", "push").code == 0
    if how == "rolled-back":
        gone = ids[2]
        git(origin.bare(), "update-ref", LEDGER, f"{head(a)}~1")
    else:
        gone = ids[1]
        _rewrite_without(origin, tmp_path / "forger", gone)
    kept = [i for i in ids if i != gone]
    assert entries_at(origin.bare(), LEDGER) == set(kept)
    append(a, "train-more", 1)  # a local-only entry must not make the loss look local
    before = head(a)

    for verb in ("pull", "push"):
        result = cli_in(a, "ledger", verb)
        assert result.code == 1, (verb, result.err)
        assert gone in result.err and "rewritten" in result.err
        assert all(i not in result.err for i in kept)
        assert head(a) == before
    assert verify(a) == (4, [])
    forged = git(origin.bare(), "rev-parse", LEDGER).strip()
    assert git(a, "rev-parse", "refs/auditpipe/rejected/origin/ledger").strip() == forged
    # The refused remote is not "healed" either: push moved nothing.
    assert entries_at(origin.bare(), LEDGER) == set(kept)
