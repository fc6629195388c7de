"""OpenLineage figures: what live events cost `auditpipe run`, and the backfill's speed.

    python bench/openlineage.py [--stages 8] [--repeat 3] [--timeout 1]

One repository with a chain of trivial stages, each `auditpipe run --force` a whole
process. Baseline in the same run: the same command with OpenLineage not configured.
Compared: a healthy loopback endpoint (http.server), an endpoint that accepts TCP and
never answers (black hole), a closed port; a dead endpoint's cost is its difference
to the healthy one (both import the client); then `export openlineage` over the ledger.
Prints a table of ratios (best of --repeat, interleaved).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lineage_support import BlackHole, LineageEndpoint, closed_port_url


def sh(cwd: Path, *args: str, env: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return time.monotonic() - start


def setup(root: Path, stages: int) -> None:
    py = sys.executable
    lines = ["stages:"]
    for i in range(stages):
        dep = f", out/{i - 1}.txt" if i else ""
        lines += [
            f"  s{i}:",
            f"    cmd: {py} -c \"import pathlib; pathlib.Path('out').mkdir(exist_ok=True); "
            f"pathlib.Path('out/{i}.txt').write_text('{i}')\"",
            f"    deps: [auditpipe.yaml{dep}]",
            f"    outs: [out/{i}.txt]",
        ]
    root.mkdir(parents=True)
    (root / "auditpipe.yaml").write_text("\n".join(lines) + "\n")
    (root / ".gitignore").write_text("out/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    sh(root, sys.executable, "-m", "auditpipe", "init")
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench"], cwd=root, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        del os.environ[name]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUDITPIPE_CONFIG_DIR"] = str(Path(tmp) / "config")
        os.environ["AUDITPIPE_OPENLINEAGE_TIMEOUT"] = str(args.timeout)
        root = Path(tmp) / "repo"
        setup(root, args.stages)
        endpoint, hole = LineageEndpoint(), BlackHole()
        cases = {
            "not configured (baseline)": {},
            "healthy loopback endpoint": {"OPENLINEAGE_URL": endpoint.url},
            "black-holed endpoint": {"OPENLINEAGE_URL": hole.url},
            "closed port": {"OPENLINEAGE_URL": closed_port_url()},
        }
        best = {name: float("inf") for name in cases}
        run = [sys.executable, "-m", "auditpipe", "run", "--force"]
        for _ in range(args.repeat):
            for name, env in cases.items():
                best[name] = min(best[name], sh(root, *run, env=env))
        received = len(endpoint.events)
        out = Path(tmp) / "lineage.jsonl"
        export = min(
            sh(root, sys.executable, "-m", "auditpipe", "export", "openlineage", "-o", str(out))
            for _ in range(args.repeat)
        )
        events = len(out.read_text().splitlines())
        endpoint.close()
        hole.close()
    base = best["not configured (baseline)"]
    alive = best["healthy loopback endpoint"]
    print(f"{args.stages} stages per run, best of {args.repeat}, timeout {args.timeout:g} s")
    print("| case | `auditpipe run --force` | ratio | extra | extra vs healthy | bound |")
    print("|---|---|---|---|---|---|")
    for name, value in best.items():
        dead = "healthy" not in name and "baseline" not in name
        bound = f"<= {args.timeout:g} s vs healthy" if dead else "-"
        versus = f"{value - alive:+.2f} s" if dead else "-"
        print(
            f"| {name} | {value:.2f} s | {value / base:.2f}x | {value - base:+.2f} s "
            f"| {versus} | {bound} |"
        )
    print(f"\nthe healthy endpoint received {received} events")
    print(
        f"`export openlineage`: {events} events ({events // 2} runs) in {export:.2f} s "
        f"(whole process)"
    )


if __name__ == "__main__":
    main()
