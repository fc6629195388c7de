"""Anchored verification figures: a 100,000-entry ledger pinned by auditpipe.lock.

    python bench/checkpoint.py [--entries 100000] [--gate-entries 10000] [--workdir DIR]

Builds the ledgers with ``git fast-import`` (one commit per signed entry, the
exact tree and trailer ``Ledger.append`` writes; 100,000 appends would take an
hour), then measures whole processes:

- ``auditpipe checkpoint`` after 100 real appends on top of a pinned checkpoint
  (this clone's frontier in .git/auditpipe/): reads, checks and verifies the
  signatures of those 100 entries only;
- ``auditpipe checkpoint`` with no state (a fresh clone): every entry's order,
  id, index paths and signature, and the consistency proof to the lock;
- ``auditpipe gate`` on a 10,000-entry ledger, with and without the state.

Baselines from the same run: ``git rev-list --count`` of the ledger (the least
any verifier must do: walk the history) and ``sha256sum`` over every entry.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger import statement_bytes  # bench/ledger.py: the same entries the ledger figures use

from auditpipe.ledger import layout
from auditpipe.ledger.ledger import Ledger
from auditpipe.lock.update import update_lock
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing.keys import KeyStore, TrustedKeys
from auditpipe.signing.local import LocalSigner
from auditpipe.workspace import Workspace

LEDGER = "refs/heads/auditpipe/ledger"
POLICY = "version: 1\nname: p\nartifacts: ['models/*.pkl']\nrules: [gates_passed]\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


CPU: dict[float, float] = {}
"""wall time -> CPU time (user + sys) of the same run: on a shared, loaded machine
the CPU time is the figure that does not depend on what else is running."""


def best(cmd: list[str], cwd: Path, repeat: int = 3, before: object = None) -> float:
    """The fastest wall time of ``repeat`` runs (its CPU time is kept in ``CPU``)."""
    times = []
    for _ in range(repeat):
        if callable(before):
            before()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        CPU[wall] = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
        times.append(wall)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return min(times)


def fmt(wall: float) -> str:
    return f"{wall:.3f} s (CPU {CPU[wall]:.3f} s)"


def repository(root: Path, config: Path) -> tuple[Workspace, LocalSigner]:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    keys = KeyStore(config / "keys")
    if not keys.exists("default"):
        keys.generate("default")
    TrustedKeys(root / "policies" / "keys").trust(keys.directory / "default.pub")
    (root / "policies" / "p.yaml").write_text(POLICY)
    workspace = Workspace.discover(root)
    with Ledger(workspace) as ledger:
        ledger.ensure_branch()
    return workspace, LocalSigner(keys.private_key("default"), "default")


def bulk_append(root: Path, signer: LocalSigner, count: int) -> None:
    """``count`` signed entries on top of the ledger head, through git fast-import."""
    head = git(root, "rev-parse", LEDGER).strip()
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"], cwd=root, stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    out = proc.stdin
    out.write(b"blob\nmark :1\ndata 0\n\n")
    for n in range(count):
        raw = statement_bytes(n)
        signed = SignedStatement.parse(raw)
        bundle = signer.sign(raw)
        entry_id = signed.id
        message = (
            f"auditpipe: stage-run {signed.stage}\n\nEntry: {entry_id}\n"
            f"Kind: stage-run\nStage: {signed.stage}\n"
        ).encode()
        out.write(b"blob\nmark :%d\ndata %d\n%s\n" % (n + 2, len(bundle), bundle))
        out.write(b"commit %s\ncommitter bench <bench@localhost> %d +0000\n" % (
            LEDGER.encode(), 1_700_000_000 + n))  # fmt: skip
        out.write(b"data %d\n%s\n" % (len(message), message))
        if n == 0:
            out.write(b"from %s\n" % head.encode())
        out.write(b"M 100644 :%d %s\n" % (n + 2, layout.entry_path_str(entry_id).encode()))
        for path in layout.index_paths_for(entry_id, signed):
            out.write(b"M 100644 :1 %s\n" % b"/".join(path))
        out.write(b"\n")
    out.write(b"done\n")
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")


def clear_state(root: Path) -> None:
    for name in ("anchor.json", "anchor-leaves.bin", "verified-head"):
        (root / ".git" / "auditpipe" / name).unlink(missing_ok=True)


def sha256_entries(root: Path) -> float:
    """sha256 over every entry's bytes, read with `git cat-file --batch` (the baseline)."""
    start = time.perf_counter()
    listing = git(root, "ls-tree", "-r", "--object-only", LEDGER, "entries/")
    proc = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=root, input=listing.encode(), capture_output=True
    )
    hashlib.sha256(proc.stdout).hexdigest()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--gate-entries", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="keep ledgers built by a run before")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="auditpipe-bench-cp-"))
    if not args.reuse:
        shutil.rmtree(work, ignore_errors=True)
    config = work / "config"
    os.environ["AUDITPIPE_CONFIG_DIR"] = str(config)
    cli = [sys.executable, "-m", "auditpipe"]

    # -- the large ledger, pinned by a lock ------------------------------------------
    root = work / "big"
    built = 0.0
    if args.reuse and (root / ".git").is_dir():
        workspace = Workspace.discover(root)
        keys = KeyStore(config / "keys")
        signer = LocalSigner(keys.private_key("default"), "default")
        clear_state(root)
        (root / "auditpipe.lock").unlink(missing_ok=True)
    else:
        workspace, signer = repository(root, config)
        start = time.perf_counter()
        bulk_append(root, signer, args.entries)
        built = time.perf_counter() - start
        git(root, "repack", "-adq")
    total = int(git(root, "rev-list", "--count", LEDGER)) - 1
    with Ledger(workspace) as ledger:
        start = time.perf_counter()
        update_lock(ledger, signer, {})  # the full anchored walk, then the signed lock
        first_anchor = time.perf_counter() - start
    full_cp = best([*cli, "checkpoint"], root, repeat=1, before=lambda: clear_state(root))
    with Ledger(workspace) as ledger:
        for n in range(100):
            ledger.append(signer.sign(statement_bytes(args.entries + n)))
    incremental = best([*cli, "checkpoint"], root, repeat=1)
    # repeat on fresh appends each time (the state moves forward after each check)
    samples = [incremental]
    for round_ in range(2):
        with Ledger(workspace) as ledger:
            for n in range(100):
                ledger.append(signer.sign(statement_bytes(args.entries + 100 * (round_ + 2) + n)))
        samples.append(best([*cli, "checkpoint"], root, repeat=1))
    incremental = min(samples)
    rev_list = best(["git", "rev-list", "--count", LEDGER], root)
    sha_all = sha256_entries(root)

    # -- gate on a smaller ledger with a real lineage ----------------------------------
    groot = work / "gate"
    shutil.rmtree(groot, ignore_errors=True)
    _gspace, gsigner = repository(groot, config)
    bulk_append(groot, gsigner, args.gate_entries)
    (groot / "in").mkdir()
    (groot / "models").mkdir()
    (groot / "in/raw.txt").write_text("abc\n")
    (groot / "models/model.pkl").write_text("model\n")
    git(groot, "add", "-A")
    git(groot, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench")
    prep = ["--stage", "prep", "--dep", "in/raw.txt", "--out", "in/raw.txt"]
    train = ["--stage", "train", "--dep", "in/raw.txt", "--out", "models/model.pkl"]
    for rec in (prep, train):
        subprocess.run([*cli, "record", *rec], cwd=groot, check=True, capture_output=True)
    gate_cmd = [*cli, "gate", "--policy", "policies/p.yaml"]
    gate_warm = best(gate_cmd, groot)
    gate_cold = best(gate_cmd, groot, before=lambda: clear_state(groot))
    g_rev = best(["git", "rev-list", "--count", LEDGER], groot)

    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")
    rows = [
        (f"bulk-build {total:,} entries (fast-import)", f"{built:.1f} s", "-", "-"),
        (
            f"full anchored walk, in-process ({total:,}, no signatures)",
            f"{total / first_anchor:,.0f} entries/s",
            "-",
            f"sha256 of all entries: {sha_all:.2f} s",
        ),
        (
            "checkpoint after 100 appends on a pinned checkpoint (whole process)",
            fmt(incremental),
            "<= 0.5 s",
            f"git rev-list --count: {rev_list:.3f} s ({incremental / rev_list:.1f}x)",
        ),
        (
            f"checkpoint with no state: full verification of {total:,} (whole process)",
            f"{full_cp:.1f} s, CPU {CPU[full_cp]:.1f} s "
            f"({total / CPU[full_cp]:,.0f} entries per CPU-s)",
            ">= 2,000/s",
            f"{full_cp / sha_all:.1f}x sha256 of all entries",
        ),
        (
            f"gate on {args.gate_entries:,} entries, clone state present (whole process)",
            fmt(gate_warm),
            "<= 1 s",
            f"git rev-list --count: {g_rev:.3f} s ({gate_warm / g_rev:.1f}x)",
        ),
        (
            f"gate on {args.gate_entries:,} entries, fresh clone (whole process)",
            fmt(gate_cold),
            "<= 1 s",
            f"{gate_cold / g_rev:.1f}x git rev-list --count",
        ),
    ]
    header = ("figure", "measured", "target", "ratio / baseline")
    width = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in width) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) + " |")


if __name__ == "__main__":
    main()
