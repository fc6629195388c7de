"""Sync figure: `ledger pull` (fetch + full verify) of 1,000 new entries over loopback `git daemon`.

    python bench/sync.py [--entries 1000] [--repeat 3] [--workdir bench/_work/sync] [--profile]

Serves a bare repository with `git daemon` on 127.0.0.1 (stopped at the end),
appends signed entries in one clone through the real ``Ledger.append`` path,
pushes them with ``auditpipe.ledger.sync.push``, then times, in other clones
holding the ledger as it was before: ``sync.pull`` in-process, the whole
``auditpipe ledger pull`` process, and plain ``git fetch`` of the same ref over
the same daemon as the baseline; each the median of ``--repeat`` fresh clones.
``--profile`` prints where pull's time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger import statement_bytes  # bench/ledger.py: the same entries both figures use

from auditpipe.ledger import sync
from auditpipe.ledger.ledger import Ledger
from auditpipe.signing.keys import KeyStore, TrustedKeys
from auditpipe.signing.local import LocalSigner
from auditpipe.workspace import Workspace

GOAL_S = 3.0
# `auditpipe ledger pull` as a whole process (registering the verb explicitly, so
# this works before auditpipe/cli/__init__.py imports sync_cmds).
CLI_PULL = (
    "import sys, auditpipe.cli.sync_cmds; from auditpipe.cli import main; "
    "sys.exit(main(['ledger', 'pull']))"
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def start_daemon(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
         f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("git daemon did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="auditpipe-sync-bench-"))).resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "served").mkdir(parents=True)
    os.environ.update(
        AUDITPIPE_CONFIG_DIR=str(work / "config"),
        GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid",
    )  # fmt: skip
    source = work / "source"
    source.mkdir()
    git(source, "init", "-q", "-b", "main")
    keys = KeyStore(work / "config" / "keys")
    keys.generate("default")
    TrustedKeys(source / "policies" / "keys").trust(keys.directory / "default.pub")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "trust the bench key")
    with Ledger(Workspace.discover(source)) as ledger:
        ledger.ensure_branch()
    git(work / "served", "init", "-q", "--bare", "-b", "main", "ledger.git")

    daemon, port = start_daemon(work / "served")
    try:
        url = f"git://127.0.0.1:{port}/ledger.git"
        git(source, "remote", "add", "origin", url)
        git(source, "push", "-q", "origin", "main", "auditpipe/ledger")
        kinds = ("inproc", "cli", "plain")
        names = [f"{kind}{i}" for kind in kinds for i in range(args.repeat)] + ["profiled"]
        for name in names:
            git(work, "clone", "-q", url, name)
            if not name.startswith("plain"):
                sync.fetch_existing_ledger(Workspace.discover(work / name))

        signer = LocalSigner(keys.private_key("default"), "default")
        with Ledger(Workspace.discover(source)) as ledger:
            for n in range(args.entries):
                ledger.append(signer.sign(statement_bytes(n)))
        start = time.perf_counter()
        pusher = cProfile.Profile() if args.profile else None
        if pusher is not None:
            pushed = pusher.runcall(sync.push, Workspace.discover(source))
        else:
            pushed = sync.push(Workspace.discover(source))
        push_s = time.perf_counter() - start
        assert pushed.sent == args.entries, pushed

        pulls, cpus, clis, fetches = [], [], [], []
        for i in range(args.repeat):
            start, cpu = time.perf_counter(), time.process_time()
            pulled = sync.pull(Workspace.discover(work / f"inproc{i}"))
            pulls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
            assert pulled.received == args.entries and pulled.entries == args.entries, pulled
            clis.append(timed([sys.executable, "-c", CLI_PULL], work / f"cli{i}"))
            fetch = ["git", "fetch", "-q", "origin", "auditpipe/ledger:refs/bench/ledger"]
            fetches.append(timed(fetch, work / f"plain{i}"))
        pull_s, cpu_s = statistics.median(pulls), statistics.median(cpus)
        cli_s, fetch_s = statistics.median(clis), statistics.median(fetches)
        profile = cProfile.Profile() if args.profile else None
        if profile is not None:
            profile.runcall(sync.pull, Workspace.discover(work / "profiled"))
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()

    n = f"{args.entries:,}"
    rows = [
        (f"ledger pull + verify, {n} new entries (in-process)", f"{pull_s:.2f} s",
         f"<= {GOAL_S:.0f} s", f"git fetch: {fetch_s:.2f} s ({pull_s / fetch_s:.1f}x)"),
        ("  of which CPU time in this process", f"{cpu_s:.2f} s", "-", "-"),
        (f"auditpipe ledger pull, {n} new (whole process)", f"{cli_s:.2f} s",
         f"<= {GOAL_S:.0f} s", f"{cli_s / GOAL_S:.2f}x of goal"),
        (f"ledger push, {n} new entries (in-process)", f"{push_s:.2f} s", "-", "-"),
        ("git fetch of the same ref, same daemon", f"{fetch_s:.2f} s", "-", "baseline"),
    ]  # fmt: skip
    header = ("figure", "measured", "goal", "ratio / baseline")
    width = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in width) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) + " |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{os.cpu_count()} cores; load average {load}; medians of {args.repeat} runs")
    for label, prof in (("pull", profile), ("push", pusher)):
        if prof is not None:
            print(f"\nprofile of {label}:")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
