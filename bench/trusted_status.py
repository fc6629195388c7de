"""Full-path ``status`` before and after it counts trusted runs only (verifying signatures).

    PYTHONPATH=$PWD python bench/trusted_status.py [--baseline REV] [--repeat 7]

The baseline is the auditpipe source at a git revision (default: where this branch left
``main``, whose ``status`` verifies no run), exported to
``bench/_work/trusted/baseline``; "ours" is this checkout. Both run as whole processes
(``python -m auditpipe status``), interleaved, on the same repositories, with the no-op
state deleted before every call so the full path answers. Rows: 50 stages x 20 files
with one run per stage (the common case: one signature check per stage), and the same
after two ``run --force`` (three runs per stage over the same bytes: the current-run
check also verifies the newer runs). The load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pipeline as base

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "trusted"


def export(revision: str) -> Path:
    """The ``auditpipe`` package at ``revision``, as a directory to put on PYTHONPATH."""
    target = WORK / "baseline"
    subprocess.run(["rm", "-rf", str(target)], check=True)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", revision, "auditpipe"], cwd=HERE.parent, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def status(repo: Path, source: Path) -> float:
    """One full-path ``status`` with ``source`` first on the import path; seconds."""
    (repo / ".git" / "auditpipe" / "noop-state.json").unlink(missing_ok=True)
    env = {**base.ENV, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    proc = subprocess.run(
        [*base.AUDITPIPE, "status"], cwd=repo, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or "stale" in proc.stdout:
        raise SystemExit(f"status in {repo} with {source}: {proc.stdout[-2000:]}{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", help="git revision to compare with")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if args.baseline is None:
        args.baseline = base.run(["git", "merge-base", "HEAD", "main"], HERE.parent).strip()[:12]
    ours, theirs = HERE.parent, export(args.baseline)
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    stages, inputs = base.noop_pipeline(50, 20)
    one = base.make_repo(WORK / "one-run", stages, inputs, "auditpipe")
    base.run([*base.AUDITPIPE, "run"], one)
    three = base.make_repo(WORK / "three-runs", stages, inputs, "auditpipe")
    for _ in range(3):
        base.run([*base.AUDITPIPE, "run", "--force"], three)
    rows = []
    for label, repo in (("1 run per stage", one), ("3 runs per stage", three)):
        status(repo, ours), status(repo, theirs)  # warm bytecode and stat caches
        mine, before = [], []
        for _ in range(args.repeat):
            mine.append(status(repo, ours))
            before.append(status(repo, theirs))
        a, b = statistics.median(mine), statistics.median(before)
        rows.append(
            f"| full-path `status`, 50 x 20, {label} | {a:.3f} s | {b:.3f} s | {a / b:.2f}x |"
        )
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    print(f"| figure | trusted runs only | baseline ({args.baseline}) | ratio (ours/baseline) |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
