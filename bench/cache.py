"""Cache figure: restoring a 1 GiB output from the output cache, hardlink vs copy.

    python bench/cache.py [--size-mib 1024] [--repeat 3] [--workdir DIR]

Writes one incompressible file, stores it in a ``LocalObjectStore`` (digest
checked as it is stored), then times ``OutputCache.restore`` of it into an empty
working-tree path with link type ``hardlink`` and with ``copy``, against the
baseline of ``shutil.copyfile`` of the same bytes (what a re-run writing the
file, or a plain copy out of any cache, costs at least). The restore trusts the
read-only content-addressed object's digest: nothing is re-hashed. Also timed:
``auditpipe reproduce models/model.pkl`` on the wine-quality example (whole
process) against the train command's own run time inside it (goal: overhead
<= 1 s); and the whole ``auditpipe run`` process that notices the deleted output and restores
it (hardlink), against ``auditpipe run --force`` re-running the stage
(``cp`` of the source), both in a real repository. Each figure is the median of
``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from auditpipe.cache import LocalObjectStore, OutputCache, Product
from auditpipe.fingerprint import fingerprint

GOAL_S = 0.1
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def write_big(path: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for i in range(mib):
            handle.write(block[i % 256 :] + block[: i % 256])  # no two blocks alike


def median(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def library(work: Path, mib: int, repeat: int) -> dict[str, float]:
    repo = work / "lib"
    (repo / "models").mkdir(parents=True)
    source = repo / "models/model.bin"
    write_big(source, mib)
    fp = fingerprint(str(source), root=repo)
    product = Product("models/model.bin", "file", fp.sha256)
    start = time.perf_counter()
    OutputCache(LocalObjectStore(work / "cache", ("copy",)), work / "cache").keep(repo, product)
    stored = time.perf_counter() - start
    pristine = work / "pristine.bin"
    shutil.copyfile(source, pristine)
    source.unlink()

    def restore(how: str) -> float:
        cache = OutputCache(LocalObjectStore(work / "cache", (how,)), work / "cache")  # type: ignore[arg-type]
        start = time.perf_counter()
        cache.restore(repo, [product])
        took = time.perf_counter() - start
        source.unlink()
        return took

    def copy() -> float:
        start = time.perf_counter()
        shutil.copyfile(pristine, source)
        took = time.perf_counter() - start
        source.unlink()
        return took

    return {
        "store (copy + sha256 check)": stored,
        "copyfile baseline": median(copy, repeat),
        "restore hardlink": median(lambda: restore("hardlink"), repeat),
        "restore copy": median(lambda: restore("copy"), repeat),
    }


def cli(work: Path, mib: int, repeat: int) -> dict[str, float]:
    repo = work / "repo"
    repo.mkdir()
    env = {**ENV, "AUDITPIPE_CONFIG_DIR": str(work / "config"), "AUDITPIPE_CACHE_TYPE": "hardlink"}

    def sh(*cmd: str) -> None:
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)

    sh("git", "init", "-q", "-b", "main")
    write_big(repo / "big.bin", mib)
    (repo / ".gitignore").write_text("big.bin\nmodel.bin\n")
    (repo / "auditpipe.yaml").write_text(
        "stages:\n  copy:\n    cmd: cp big.bin model.bin\n    deps: [big.bin]\n"
        "    outs: [model.bin]\n"
    )
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "bench")
    sh(sys.executable, "-m", "auditpipe", "init")
    sh(sys.executable, "-m", "auditpipe", "run")

    def timed(*args: str) -> float:
        (repo / "model.bin").unlink()
        start = time.perf_counter()
        sh(sys.executable, "-m", "auditpipe", *args)
        return time.perf_counter() - start

    return {
        "auditpipe run, restores (hardlink)": median(lambda: timed("run"), repeat),
        "auditpipe run --force, re-runs cp": median(lambda: timed("run", "--force"), repeat),
    }


def reproduce_example(work: Path, repeat: int) -> dict[str, float]:
    """Wall time of `auditpipe reproduce` and the command time it contains."""
    import json

    example = Path(__file__).resolve().parent.parent / "examples" / "wine-quality"
    repo = work / "wine"
    shutil.copytree(example, repo)
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **ENV,
        "AUDITPIPE_CONFIG_DIR": str(work / "config-wine"),
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
    }

    def sh(*cmd: str) -> str:
        done = subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True)
        return done.stdout

    sh("git", "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("data/prepared/\ndata/features/\nmodels/\nmetrics/\n")
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "example")
    sh(sys.executable, "-m", "auditpipe", "init")
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "init")
    sh(sys.executable, "-m", "auditpipe", "run")
    walls, commands = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        out = sh(sys.executable, "-m", "auditpipe", "reproduce", "models/model.pkl", "--json")
        walls.append(time.perf_counter() - start)
        (outcome,) = json.loads(out)
        assert outcome["matches"], outcome
        commands.append(outcome["seconds"])
    wall, command = statistics.median(walls), statistics.median(commands)
    return {"reproduce wall": wall, "train command inside": command, "overhead": wall - command}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--only-reproduce", action="store_true", help="skip the 1 GiB figures")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cache-", dir=args.workdir))
    try:
        lib: dict[str, float] = {}
        whole: dict[str, float] = {}
        if not args.only_reproduce:
            lib = library(work, args.size_mib, args.repeat)
            whole = cli(work, args.size_mib, args.repeat)
        repro = reproduce_example(work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| reproduce on examples/wine-quality (train) | seconds | goal |")
    print("|---|---|---|")
    for name, value in repro.items():
        goal = f"<= 1 s: {'met' if value <= 1.0 else '**missed**'}" if name == "overhead" else ""
        print(f"| {name} | {value:.3f} | {goal} |")
    if not lib:
        return
    base = lib["copyfile baseline"]
    print()
    title = f"figure ({args.size_mib} MiB, median of {args.repeat})"
    print(f"| {title} | seconds | vs copyfile | goal |")
    print("|---|---|---|---|")
    for name, value in lib.items():
        goal = ""
        if name == "restore hardlink":
            goal = f"<= {GOAL_S} s: {'met' if value <= GOAL_S else '**missed**'}"
        print(f"| {name} | {value:.4f} | {value / base:.3f}x | {goal} |")
    rerun = whole["auditpipe run --force, re-runs cp"]
    for name, value in whole.items():
        print(f"| {name} | {value:.3f} | {value / base:.2f}x | {value / rerun:.2f}x of re-run |")


if __name__ == "__main__":
    main()
