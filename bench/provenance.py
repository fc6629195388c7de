"""Provenance figures: `verify ARTIFACT` on a lineage 50 runs deep in a 10,000-entry ledger,
and `gate` / `verify` whole-process times on a small pipeline.

    python bench/provenance.py [--entries 10000] [--depth 50] [--workdir bench/_work/provenance]

Baselines in the same run: `python -c pass` (interpreter start) and
`git log -n 1` on the ledger branch.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest import (
    CodeState,
    Digest,
    Environment,
    Material,
    Runner,
    StageRun,
    Subject,
    build_statement,
)
from auditpipe.signing.keys import KeyStore, TrustedKeys
from auditpipe.signing.local import LocalSigner
from auditpipe.workspace import Workspace

ENV = Environment(python="3.11", platform="bench", packages_digest="0" * 64)
RUNNER = Runner(user="bench", host="bench")


def run_statement(
    stage: str,
    n: int,
    inputs: list[Material],
    out_name: str,
    out_digest: str,
    metrics: dict[str, float] | None = None,
) -> bytes:
    predicate = StageRun(
        stage=stage,
        status="succeeded",
        command=f"step {n}",
        code=CodeState(dirty=False),
        materials=inputs,
        products=[Material(name=out_name, digest=Digest(sha256=out_digest), size=1)],
        metrics=metrics or {},
        environment=ENV,
        started_at="2026-11-22T00:00:00Z",
        finished_at=f"2026-11-22T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
        runner=RUNNER,
    )
    subject = Subject(name=out_name, digest={"sha256": out_digest})
    return build_statement([subject], predicate).raw


def best(cmd: list[str], cwd: Path, env: dict[str, str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0,):
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="auditpipe-prov-"))
    shutil.rmtree(work, ignore_errors=True)
    root = work / "repo"
    (root / "in").mkdir(parents=True)
    (root / "out").mkdir()
    env = {**os.environ, "AUDITPIPE_CONFIG_DIR": str(work / "config")}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    keys = KeyStore(work / "config" / "keys")
    keys.generate("default")
    TrustedKeys(root / "policies" / "keys").trust(keys.directory / "default.pub")
    signer = LocalSigner(keys.private_key("default"), "default")
    source = root / "in" / "source.txt"
    source.write_text("source data\n")
    prev = Material(
        name="in/source.txt",
        digest=Digest(sha256=hashlib.sha256(source.read_bytes()).hexdigest()),
        size=12,
    )
    with Ledger(Workspace.discover(root)) as ledger:
        filler = args.entries - args.depth
        for n in range(filler):
            digest = hashlib.sha256(f"filler {n}".encode()).hexdigest()
            ledger.append(signer.sign(run_statement(f"other{n % 40}", n, [], f"x/{n}", digest)))
        for level in range(args.depth):
            out = root / "out" / f"{level}.bin"
            out.write_text(f"level {level}\n")
            digest = hashlib.sha256(out.read_bytes()).hexdigest()
            entry = ledger.append(
                signer.sign(
                    run_statement(
                        f"step{level}", filler + level, [prev], f"out/{level}.bin", digest
                    )
                )
            )
            prev = Material(
                name=f"out/{level}.bin", digest=Digest(sha256=digest), size=8, produced_by=entry
            )
    (root / "policies" / "p.yaml").write_text(
        "version: 1\nname: bench\nrules: [gates_passed, trusted_signers]\n"
    )
    artifact = f"out/{args.depth - 1}.bin"
    cli = [sys.executable, "-m", "auditpipe"]
    verify_s = best([*cli, "verify", artifact], root, env)
    gate_s = best([*cli, "gate", artifact, "--policy", "policies/p.yaml"], root, env)
    python_s = best([sys.executable, "-c", "pass"], root, env)
    git_s = best(["git", "log", "-n", "1", "auditpipe/ledger"], root, env)
    rows = [
        (
            f"verify, lineage {args.depth} deep, {args.entries:,} entries",
            f"{verify_s:.3f} s",
            "<= 1 s",
            f"{verify_s:.2f}x target; python start {python_s:.3f} s",
        ),
        (
            "gate (2 rules), same lineage",
            f"{gate_s:.3f} s",
            "<= 1 s",
            f"{gate_s:.2f}x target; git log -n 1: {git_s:.3f} s",
        ),
    ]
    header = ("figure", "measured", "target", "ratio / baseline")
    width = [max(len(str(r[i])) for r in [*rows, header]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in width) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) + " |")
    print(f"load average during the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
