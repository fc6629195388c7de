"""Ledger figures: append latency vs ledger size, verify throughput, `log -n 20` wall time.

    python bench/ledger.py [--entries 10000] [--workdir bench/_work/ledger]

Builds a throw-away repository, appends signed stage-run entries through the
real ``Ledger.append`` path, and prints a table with each figure, its target,
and plain git doing comparable work in the same run as the baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from auditpipe.ledger.ledger import Ledger
from auditpipe.ledger.verify import verify_ledger
from auditpipe.manifest import CodeState, Environment, Runner, StageRun, Subject, build_statement
from auditpipe.signing.keys import KeyStore, TrustedKeys
from auditpipe.signing.local import LocalSigner, LocalVerifier
from auditpipe.workspace import Workspace

ENV = Environment(python="3.11", platform="bench", packages_digest="0" * 64)
RUNNER = Runner(user="bench", host="bench")


def statement_bytes(n: int) -> bytes:
    predicate = StageRun(
        stage=f"stage{n % 50}",
        status="succeeded",
        command=f"python step.py {n}",
        code=CodeState(dirty=False),
        params={"n": n},
        metrics={"score": n / 7},
        environment=ENV,
        started_at="2026-11-22T00:00:00Z",
        finished_at="2026-11-22T00:00:01Z",
        runner=RUNNER,
    )
    digest = hashlib.sha256(str(n).encode()).hexdigest()
    return build_statement([Subject(name=f"out/{n}.bin", digest={"sha256": digest})], predicate).raw


def timed(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def run(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="auditpipe-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    root = work / "repo"
    root.mkdir(parents=True)
    env = {**os.environ, "AUDITPIPE_CONFIG_DIR": str(work / "config")}
    os.environ.update(env)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    # git creates the 256 object fan-out folders lazily; create them up front so
    # the 10-entry figure measures appends, not the first mkdir of each folder.
    for i in range(256):
        (root / ".git" / "objects" / f"{i:02x}").mkdir(exist_ok=True)
    keys = KeyStore(work / "config" / "keys")
    keys.generate("default")
    TrustedKeys(root / "policies" / "keys").trust(keys.directory / "default.pub")
    signer = LocalSigner(keys.private_key("default"), "default")
    # Removing an earlier run's work dir (150k+ loose objects) leaves the
    # filesystem journal busy for seconds, and every ref update fsyncs: flush it
    # first so the small-ledger figure is not measuring that.
    os.sync()
    workspace = Workspace.discover(root)
    ledger = Ledger(workspace)

    checkpoints = sorted({10, 1_000, args.entries})
    latencies: dict[int, float] = {}
    n = 0
    for target in checkpoints:
        while n < target:
            ledger.append(signer.sign(statement_bytes(n)))
            n += 1
        samples = []
        for _ in range(30):
            bundle = signer.sign(statement_bytes(n))
            samples.append(timed(ledger.append, bundle))
            n += 1
        latencies[target] = statistics.median(samples)
    ledger.close()
    total = n

    with Ledger(workspace) as book:
        verifier = LocalVerifier(TrustedKeys(root / "policies" / "keys").load())
        verify_s = timed(lambda: verify_ledger(book.store, verifier))
    verify_cli = run([sys.executable, "-m", "auditpipe", "verify", "--ledger"], root)
    fsck = run(["git", "fsck", "--strict", "--no-dangling"], root)
    log_cli = min(
        run([sys.executable, "-m", "auditpipe", "log", "-n", "20"], root) for _ in range(3)
    )
    git_log = min(run(["git", "log", "-n", "20", "auditpipe/ledger"], root) for _ in range(3))

    rows = [
        ("append latency, 10 entries", f"{latencies[10] * 1000:.1f} ms", "-", "baseline"),
        (
            "append latency, 1,000 entries",
            f"{latencies[1000] * 1000:.1f} ms",
            "-",
            f"{latencies[1000] / latencies[10]:.2f}x of 10",
        ),
        (
            f"append latency, {args.entries:,} entries",
            f"{latencies[args.entries] * 1000:.1f} ms",
            "<= 2x of 10",
            f"{latencies[args.entries] / latencies[10]:.2f}x of 10",
        ),
        (
            f"verify --ledger ({total:,} entries, in-process)",
            f"{total / verify_s:,.0f} entries/s",
            ">= 2,000/s",
            f"{total / verify_s / 2000:.2f}x target",
        ),
        (
            "verify --ledger (whole process)",
            f"{verify_cli:.2f} s ({total / verify_cli:,.0f}/s)",
            ">= 2,000/s",
            f"git fsck --strict: {fsck:.2f} s ({verify_cli / fsck:.2f}x)",
        ),
        (
            "auditpipe log -n 20 (whole process)",
            f"{log_cli:.3f} s",
            "< 1 s",
            f"git log -n 20: {git_log:.3f} s ({log_cli / git_log:.1f}x)",
        ),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("figure", "measured", "target", "ratio / baseline")
    width = [max(w, len(h)) for w, h in zip(width, header, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in width) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) + " |")


if __name__ == "__main__":
    main()
