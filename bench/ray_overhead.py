"""Per-stage overhead of ``--executor ray`` against ``local``, measured three ways in one run.

Usage::

    .venv/bin/python bench/ray_overhead.py [--stages 20] [--repeat 3] [--output FILE]

On a two-node Ray cluster started here (``ray.cluster_utils.Cluster``, 1 CPU per
node), ``auditpipe run --force -j 2`` of N and 2N independent short stages
(``echo i > out/si.txt``), each executor measured ``--repeat`` times (best taken):

* whole process: (ray - local) / N, everything included: ``import ray``,
  ``ray.init``, Ray starting this job's worker processes, ``ray.shutdown``;
* excluding the one-time connect: the same minus a separately measured
  ``import ray; ray.init(address); ray.shutdown()`` process (less an empty one);
* marginal: the extra time of ray over local per additional stage, from N to
  2N stages, so every one-time cost (connect, worker start-up) cancels out.

Goal: <= 100 ms per stage. The load average is printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from executors import _cli, _repo

MIB = 2**20
GOAL = 0.100
Row = tuple[str, str, str, str]


def _pipeline(stages: int) -> str:
    return "stages:\n" + "".join(
        f"  s{i}:\n    cmd: echo {i} > out/s{i}.txt\n    outs: [out/s{i}.txt]\n"
        for i in range(stages)
    )


def _best(repo: Path, env: dict[str, str], repeat: int, *extra: str) -> float:
    return min(_cli(repo, env, "run", "--force", "-j", "2", *extra) for _ in range(repeat))


def _connect_cost(address: str, repeat: int) -> float:
    """``import ray`` + ``ray.init`` + ``ray.shutdown`` in a fresh process, less an empty one."""
    code = (
        "import logging, ray\n"
        f"ray.init(address={address!r}, log_to_driver=False, logging_level=logging.ERROR,"
        " configure_logging=False)\nray.shutdown()\n"
    )

    def timed(*args: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        return time.perf_counter() - start

    return min(timed("-c", code) for _ in range(repeat)) - min(
        timed("-c", "pass") for _ in range(repeat)
    )


# The executors alone, in one driver process: N jobs through LocalExecutor.launch,
# then connect, then N through RayExecutor.launch twice (cold, then warm workers),
# each batch on 2 threads as `-j 2` would. Prints four timings.
IN_PROCESS = """
import os, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from auditpipe.pipeline.executors.interface import CommandJob
from auditpipe.pipeline.executors.local import LocalExecutor
from auditpipe.pipeline.executors.ray import RayExecutor
n, address = int(sys.argv[1]), sys.argv[2]
work = tempfile.mkdtemp()
env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
jobs = [CommandJob(f"s{i}", f"echo {i} > s{i}.txt", work, env) for i in range(n)]
def batch(executor):
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda j: executor.launch(j, lambda s, l: None), jobs))
    assert all(o.exit_code == 0 for o in done), done
    return time.perf_counter() - start
local = min(batch(LocalExecutor()) for _ in range(3))
ray = RayExecutor(address)
start = time.perf_counter()
ray.connect()
connect = time.perf_counter() - start
cold, warm = batch(ray), batch(ray)
ray.close()
print(local, connect, cold, warm)
"""


def _in_process(address: str, stages: int) -> tuple[float, float, float, float]:
    """(local, connect, ray with cold workers, ray warm) seconds for ``stages`` jobs."""
    proc = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(stages), address],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    if proc.returncode != 0:
        raise SystemExit(f"in-process measurement failed:\n{proc.stderr}")
    local, connect, cold, warm = (float(x) for x in proc.stdout.split()[-4:])
    return local, connect, cold, warm


def ray_overhead(stages: int, repeat: int = 3) -> list[Row]:
    """The table rows: baselines, the three per-stage figures, the connect cost."""
    from ray.cluster_utils import Cluster

    small = {"num_cpus": 1, "object_store_memory": 80 * MIB}
    cluster = Cluster(initialize_head=True, head_node_args={**small, "include_dashboard": False})
    cluster.add_node(**small)
    cluster.wait_for_nodes()
    ray_args = ("--executor", "ray", "--address", cluster.address)
    took: dict[tuple[str, int], float] = {}
    try:
        for count in (stages, 2 * stages):
            with tempfile.TemporaryDirectory() as tmp:
                repo, env = _repo(Path(tmp), _pipeline(count), {})
                took["local", count] = _best(repo, env, repeat)
                took["ray", count] = _best(repo, env, repeat, *ray_args)
        connect = _connect_cost(cluster.address, repeat)
        inside = min((_in_process(cluster.address, stages) for _ in range(repeat)), key=sum)
    finally:
        cluster.shutdown()
    local, ray = took["local", stages], took["ray", stages]
    whole = (ray - local) / stages
    without_connect = (ray - local - connect) / stages
    marginal = ((took["ray", 2 * stages] - ray) - (took["local", 2 * stages] - local)) / stages

    def verdict(value: float) -> str:
        return "yes" if value <= GOAL else "**no**"

    n, n2 = stages, 2 * stages
    base, init, cold, warm = inside
    return [
        (f"{n} short stages, local -j 2", f"{local:.2f} s", "baseline", ""),
        (f"{n} short stages, ray -j 2 (2 nodes)", f"{ray:.2f} s", f"{ray / local:.2f}x", ""),
        (f"{n2} short stages, local -j 2", f"{took['local', n2]:.2f} s", "baseline", ""),
        (f"{n2} short stages, ray -j 2", f"{took['ray', n2]:.2f} s", "", ""),
        ("one-time connect: import ray + ray.init + shutdown", f"{connect:.2f} s", "", ""),
        (
            "ray overhead per stage, whole process",
            f"{whole * 1000:.0f} ms",
            "<= 100 ms",
            verdict(whole),
        ),
        (
            "ray overhead per stage, excluding the one-time connect",
            f"{without_connect * 1000:.0f} ms",
            "<= 100 ms",
            verdict(without_connect),
        ),
        (
            f"in one driver: {n} jobs, LocalExecutor.launch on 2 threads",
            f"{base:.2f} s",
            "baseline",
            "",
        ),
        ("in one driver: RayExecutor.connect (ray.init)", f"{init:.2f} s", "", ""),
        (
            f"in one driver: {n} jobs, RayExecutor.launch, cold workers",
            f"{cold:.2f} s",
            f"{(cold - base) / n * 1000:.0f} ms per stage over local, excluding connect",
            verdict((cold - base) / n),
        ),
        (
            f"in one driver: {n} jobs, RayExecutor.launch, warm workers",
            f"{warm:.2f} s",
            f"{(warm - base) / n * 1000:.0f} ms per stage over local",
            verdict((warm - base) / n),
        ),
        (
            f"ray overhead per additional stage ({n} -> {n2}, whole process; noisy)",
            f"{marginal * 1000:.0f} ms",
            "<= 100 ms",
            verdict(marginal),
        ),
    ]


def table(rows: list[Row]) -> str:
    lines = ["| figure | measured | ratio / target | met |", "|---|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, help="append the table and command to this file")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    text = table(ray_overhead(args.stages, args.repeat))
    load = f"load average {before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(text)
    print(load)
    if args.output:
        command = "python bench/ray_overhead.py " + " ".join(sys.argv[1:])
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        with open(args.output, "a", encoding="utf-8") as out:
            out.write(f"\n## Ray executor overhead\n\n`{command}` ({when}, {load})\n\n{text}\n")


if __name__ == "__main__":
    main()
