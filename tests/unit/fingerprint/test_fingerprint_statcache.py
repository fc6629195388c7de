"""The stat cache: unchanged files are not re-hashed, changed ones always are."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditpipe.fingerprint import HashCounter, StatCache, fingerprint
from tests.unit.fingerprint.conftest import age, sha256sum, write_tree


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = write_tree(
        tmp_path / "repo",
        {f"data/f{i}.txt": f"file {i}\n" * (i + 1) for i in range(20)},
    )
    (root / ".git").mkdir()
    age(root / "data")
    return root


def cache_path(root: Path) -> Path:
    return StatCache.default_path(root / ".git")


def run(root: Path, target: str = "data") -> tuple[str, int]:
    counter = HashCounter()
    with StatCache(cache_path(root)) as cache:
        fp = fingerprint(root / target, root=root, cache=cache, observer=counter)
    return fp.sha256, counter.files


def test_cache_lives_in_git_dir(repo: Path) -> None:
    run(repo)
    assert cache_path(repo) == repo / ".git" / "auditpipe" / "statcache.sqlite"
    assert cache_path(repo).is_file()


def test_unchanged_files_are_not_rehashed(repo: Path) -> None:
    first, hashed = run(repo)
    assert hashed == 20
    second, hashed = run(repo)
    assert (second, hashed) == (first, 0)


def test_touch_rehashes_only_the_touched_file_once(repo: Path) -> None:
    first, _ = run(repo)
    # `touch` moves mtime (to the past here, so the new entry is not racy either).
    subprocess.run(["touch", "-d", "2001-02-03 04:05:06", str(repo / "data/f3.txt")], check=True)
    second, hashed = run(repo)
    assert (second, hashed) == (first, 1)  # the new mtime must be verified once...
    third, hashed = run(repo)
    assert (third, hashed) == (first, 0)  # ...and then it is cached again
    # touching every file changes no digest, and after one verification nothing is hashed
    subprocess.run(["touch", "-d", "2001-02-03", *map(str, (repo / "data").iterdir())], check=True)
    assert run(repo) == (first, 20)
    assert run(repo) == (first, 0)


def test_same_size_edit_within_the_same_second_is_detected(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", {"data.csv": "a,b\n1,2\n"})
    (root / ".git").mkdir()
    path = root / "data.csv"
    before = os.stat(path)
    first, hashed = run(root, "data.csv")
    assert hashed == 1
    # Rewrite in place with the same size, and put mtime back exactly: what a filesystem
    # with coarse timestamps shows for an edit within the same tick.
    path.write_text("a,b\n3,4\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    second, hashed = run(root, "data.csv")
    assert hashed == 1
    assert second != first
    assert second == sha256sum(path)


def test_entries_older_than_the_racy_window_are_trusted(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", {"x.txt": "x"})
    (root / ".git").mkdir()
    run(root, "x.txt")
    assert run(root, "x.txt")[1] == 1  # just written: racy, verified again
    age(root / "x.txt", 10)
    run(root, "x.txt")
    assert run(root, "x.txt")[1] == 0


def test_corrupt_cache_is_rebuilt_not_fatal(repo: Path) -> None:
    first, _ = run(repo)
    cache_path(repo).write_bytes(b"this is not an sqlite database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{cache_path(repo)}{suffix}").unlink(missing_ok=True)
    again, hashed = run(repo)
    assert (again, hashed) == (first, 20)
    assert run(repo) == (first, 0)  # the rebuilt cache works
    with sqlite3.connect(cache_path(repo)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_unwritable_cache_location_is_not_fatal(repo: Path) -> None:
    (repo / ".git" / "auditpipe").write_text("a file where the cache directory should be")
    counter = HashCounter()
    with StatCache(cache_path(repo)) as cache:
        assert not cache.enabled
        fp = fingerprint(repo / "data", root=repo, cache=cache, observer=counter)
    assert counter.files == 20
    assert len(fp.sha256) == 64


WRITER = """
import sys
from auditpipe.fingerprint import StatCache, fingerprint
root, cache = sys.argv[1], sys.argv[2]
for _ in range(5):
    with StatCache(cache) as c:
        fingerprint(root + "/data", root=root, cache=c)
print("ok")
"""


def test_concurrent_processes_share_the_cache(repo: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(repo), str(cache_path(repo))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
        assert "disabled" not in err and "unusable" not in err, err
    assert run(repo)[1] == 0
    with sqlite3.connect(cache_path(repo)) as db:
        assert db.execute("SELECT count(*) FROM files").fetchone() == (20,)


def test_cache_entry_records_the_time_it_was_made(repo: Path) -> None:
    t0 = time.time_ns()
    run(repo)
    with sqlite3.connect(cache_path(repo)) as db:
        cached = {row[0] for row in db.execute("SELECT cached_ns FROM files")}
    assert len(cached) == 1
    assert t0 <= cached.pop() <= time.time_ns()


def test_one_cache_shared_by_threads(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The pipeline runs stages in threads that share one StatCache."""
    from concurrent.futures import ThreadPoolExecutor

    (repo / "other").mkdir()
    for i in range(20):
        (repo / "other" / f"g{i}").write_text(str(i))
    age(repo / "other")
    with StatCache(cache_path(repo)) as cache, ThreadPoolExecutor(4) as pool:
        jobs = [
            pool.submit(fingerprint, repo / target, root=repo, cache=cache)
            for target in ["data", "other"] * 8
        ]
        digests = {f.result().sha256 for f in jobs}
        assert cache.enabled
    assert len(digests) == 2
    assert not [r for r in caplog.records if "stat cache" in r.getMessage()]
    assert run(repo, "data")[1] == 0
    assert run(repo, "other")[1] == 0
