"""DVC's output semantics on real repositories: outputs cleared before a run,
products restored from the cache instead of re-running, nothing deleted unrecorded."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result

APPEND = """\
stages:
  log:
    cmd: cat in.txt >> log.txt
    deps: [in.txt]
    outs: [log.txt]
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def runs(cli: Callable[..., Result]) -> list[dict]:
    result = cli("log", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def subjects(cli: Callable[..., Result], entry: str) -> dict[str, str]:
    shown = json.loads(cli("show", entry, "--json").out)["statement"]
    return {s["name"]: s["digest"]["sha256"] for s in shown["subject"]}


def newest(cli: Callable[..., Result], stage: str) -> str:
    return next(r["id"] for r in runs(cli) if r["stage"] == stage)


def cache_object(root: Path, digest: str) -> Path:
    return root / ".git/auditpipe/cache/sha256" / digest[:2] / digest[2:]


@pytest.fixture
def append(project: Project) -> Project:
    project.gen({"auditpipe.yaml": APPEND, "in.txt": "1\n"})
    project.commit("append stage")
    return project


def test_append_stage_signs_only_what_this_run_wrote(
    append: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    append.gen({"in.txt": "2\n"})
    result = cli("run")
    assert result.code == 0, result.err
    assert (append.root / "log.txt").read_bytes() == b"2\n"
    assert subjects(cli, newest(cli, "log")) == {"log.txt": sha(b"2\n")}
    assert "moved" not in result.err  # the old log was a signed product: just cleared


def test_persist_keeps_the_output_as_dvc_does(append: Project, cli: Callable[..., Result]) -> None:
    persisted = APPEND.replace("[log.txt]", "\n      - log.txt: {persist: true}")
    append.gen({"auditpipe.yaml": persisted})
    assert cli("run").code == 0
    append.gen({"in.txt": "2\n"})
    assert cli("run").code == 0
    assert (append.root / "log.txt").read_bytes() == b"1\n2\n"
    assert subjects(cli, newest(cli, "log")) == {"log.txt": sha(b"1\n2\n")}


def test_directory_output_loses_stale_files(project: Project, cli: Callable[..., Result]) -> None:
    project.gen(
        {
            "auditpipe.yaml": "stages:\n  copy:\n    cmd: cp -r inputs dir\n"
            "    deps: [inputs]\n    outs: [dir]\n",
            "inputs/a.txt": "a\n",
            "inputs/b.txt": "b\n",
        }
    )
    project.commit("copy stage")
    assert cli("run").code == 0
    (project.root / "inputs/b.txt").unlink()
    project.gen({"inputs/c.txt": "c\n"})
    result = cli("run")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (project.root / "dir").iterdir()) == ["a.txt", "c.txt"]
    # A deleted directory output comes back from the cache, file by file.
    import shutil

    shutil.rmtree(project.root / "dir")
    again = cli("run")
    assert "stage is cached — restored outputs" in again.err, again.err
    assert sorted(p.name for p in (project.root / "dir").iterdir()) == ["a.txt", "c.txt"]
    assert (project.root / "dir/c.txt").read_text() == "c\n"


def test_hand_made_file_is_moved_to_the_cache_not_deleted(
    append: Project, cli: Callable[..., Result]
) -> None:
    append.gen({"log.txt": "made by hand\n"})
    result = cli("run")
    assert result.code == 0, result.err
    digest = sha(b"made by hand\n")
    kept = cache_object(append.root, digest)
    message = " ".join(result.err.split())
    assert "log.txt was not made by a successful signed run; moved it to the cache" in message
    assert digest[:12] in message
    assert kept.read_bytes() == b"made by hand\n"
    assert (append.root / "log.txt").read_bytes() == b"1\n"  # the command's product only


def test_edited_output_is_set_aside_and_the_signed_one_restored(
    append: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    entries = len(runs(cli))
    (append.root / "log.txt").write_text("edited\n")
    result = cli("run")
    assert result.code == 0, result.err
    assert "stage is cached — restored outputs" in result.err
    assert (append.root / "log.txt").read_bytes() == b"1\n"
    assert cache_object(append.root, sha(b"edited\n")).read_bytes() == b"edited\n"
    assert len(runs(cli)) == entries  # no command ran, nothing new signed


def test_cached_objects_are_read_only_and_checked(
    append: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    obj = cache_object(append.root, sha(b"1\n"))
    assert sha(obj.read_bytes()) == sha(b"1\n")
    assert stat.S_IMODE(obj.stat().st_mode) & 0o222 == 0
    # The working copy is separate (reflink or copy by default): appending to it
    # cannot reach the object.
    with open(append.root / "log.txt", "ab") as handle:
        handle.write(b"more\n")
    assert obj.read_bytes() == b"1\n"


def test_checkout_restores_on_demand(
    append: Project, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITPIPE_CACHE_TYPE", "hardlink")
    assert cli("run").code == 0
    (append.root / "log.txt").unlink()
    result = cli("checkout", "log")
    assert result.code == 0, result.err
    assert "log: restored outputs of run" in result.out
    restored = append.root / "log.txt"
    assert restored.read_bytes() == b"1\n"
    assert restored.stat().st_ino == cache_object(append.root, sha(b"1\n")).stat().st_ino
    assert cli("checkout").out.strip() == "log: up to date"
    append.gen({"in.txt": "3\n"})
    stale = cli("checkout")
    assert stale.code == 1
    assert "run `auditpipe run log`" in " ".join(stale.out.split())


def test_restore_never_writes_through_a_link_out_of_the_repository(
    project: Project, cli: Callable[..., Result], tmp_path: Path
) -> None:
    project.gen(
        {
            "auditpipe.yaml": "stages:\n  s:\n    cmd: cat in.txt > out/r.txt\n"
            "    deps: [in.txt]\n    outs: [out/r.txt]\n",
            "in.txt": "x\n",
            "out/.keep": "",
        }
    )
    project.commit("stage")
    assert cli("run").code == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    import shutil

    shutil.rmtree(project.root / "out")
    os.symlink(outside, project.root / "out")
    result = cli("checkout")
    assert result.code == 2
    assert "is a symbolic link" in result.err
    assert list(outside.iterdir()) == []


def test_gc_is_a_dry_run_and_keeps_locked_and_newest_runs(
    append: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    first = newest(cli, "log")
    append.gen({"in.txt": "2\n"})
    assert cli("run").code == 0
    old, new = cache_object(append.root, sha(b"1\n")), cache_object(append.root, sha(b"2\n"))
    dry = cli("gc", "--keep", "1")
    assert dry.code == 0
    assert f"would remove {sha(b'1' + bytes([10]))}" in dry.out
    assert old.exists()
    # A lock on a branch naming the first run keeps its products.
    append.git("checkout", "-q", "-b", "release")
    append.gen({"auditpipe.lock": json.dumps({"version": 1, "stages": {"log": first}})})
    append.commit("lock")
    append.git("checkout", "-q", "main")
    assert cli("gc", "--keep", "1", "--apply").code == 0
    assert old.exists() and new.exists()
    append.git("branch", "-q", "-D", "release")
    assert cli("gc", "--keep", "1", "--apply").code == 0
    assert not old.exists() and new.exists()


PARAMS_STAGE = """\
stages:
  train:
    cmd: cat data/big.bin src/train.py > model.bin
    deps: [src/train.py, data/big.bin]
    params: [train.epochs]
    outs: [model.bin]
"""


def code_of(cli: Callable[..., Result], stage: str) -> dict:
    shown = json.loads(cli("show", newest(cli, stage), "--json").out)["statement"]
    return shown["predicate"]["code"]


@pytest.fixture
def trained(project: Project) -> Project:
    project.gen(
        {
            "auditpipe.yaml": PARAMS_STAGE,
            "params.yaml": "train:\n  epochs: 3\n",
            ".gitignore": "data/big.bin\nmodel.bin\n",
            "data/big.bin": "v1",
        }
    )
    project.commit("train stage")
    return project


def test_committed_run_is_clean(trained: Project, cli: Callable[..., Result]) -> None:
    assert cli("run").code == 0
    code = code_of(cli, "train")
    assert code["dirty"] is False
    assert "dirtyFiles" not in code


def test_uncommitted_params_edit_makes_the_run_dirty(
    trained: Project, cli: Callable[..., Result]
) -> None:
    trained.gen({"params.yaml": "train:\n  epochs: 4\n"})
    assert cli("run").code == 0
    code = code_of(cli, "train")
    assert code["dirty"] is True
    assert code["dirtyFiles"] == ["params.yaml"]


def test_uncommitted_pipeline_edit_makes_the_run_dirty(
    trained: Project, cli: Callable[..., Result]
) -> None:
    trained.gen({"auditpipe.yaml": PARAMS_STAGE.replace("> model.bin", ">model.bin")})
    assert cli("run").code == 0
    assert code_of(cli, "train")["dirtyFiles"] == ["auditpipe.yaml"]


def test_ignored_data_dep_is_data_not_dirty_code(
    trained: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    trained.gen({"data/big.bin": "v2"})  # gitignored: recorded by digest
    assert cli("run").code == 0
    code = code_of(cli, "train")
    assert code["dirty"] is False
    trained.gen({"src/train.py": "print(2)\n"})
    assert cli("run").code == 0
    assert code_of(cli, "train")["dirtyFiles"] == ["src/train.py"]


def test_status_explains_a_removed_param_key(trained: Project, cli: Callable[..., Result]) -> None:
    assert cli("run").code == 0
    trained.gen({"params.yaml": "train: {}\n"})
    status = cli("status")
    assert status.code == 0, status.err
    assert "deleted: train.epochs" in status.out
    rows = json.loads(cli("status", "--json").out)
    assert rows[0]["upToDate"] is False
    before = cli("log", "--json").out
    run = cli("run")
    # The stage cannot run without its param: bad input (exit 2), checked before
    # any command runs (the secret check reads every param first), nothing signed.
    assert run.code == 2
    assert "'train.epochs' not found" in " ".join(run.err.split())
    assert cli("log", "--json").out == before
