"""Benchmark of executors and object stores: prints a table of ratios, writes RESULTS_scale.md.

Usage::

    .venv/bin/python bench/executors.py [--stages 20] [--object-mib 256] [--deps 1000]
                                        [--output bench/RESULTS_scale.md]

Figures (each ratio against a baseline measured in this one run):

1. per-stage overhead of ``--executor ray`` against ``local``: ``auditpipe run
   --force -j 2`` of N independent short stages, on a two-node Ray cluster
   started here (``ray.cluster_utils.Cluster``, 1 CPU per node); whole process,
   excluding the one-time connect, and marginal (``bench/ray_overhead.py``,
   which also runs alone);
2. fingerprinting one object on a loopback S3 server (moto) against a plain
   boto3 download of the same object;
3. a no-op ``auditpipe status`` of one stage with ``--deps`` unchanged S3 objects.

Work files live under a temporary directory; nothing is left behind.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIB = 2**20
ROOT = Path(__file__).resolve().parent.parent


def _cli(repo: Path, env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "auditpipe", *args], cwd=repo, env=env, capture_output=True
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"auditpipe {' '.join(args)} failed:\n{proc.stderr.decode()}")
    return took


def _repo(work: Path, pipeline: str, extra_env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    repo = work / "repo"
    repo.mkdir()
    env = {
        **os.environ,
        **extra_env,
        "AUDITPIPE_CONFIG_DIR": str(work / "config"),
        "PYTHONPATH": str(ROOT),
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@example.com",
    }
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, env=env)
    (repo / "auditpipe.yaml").write_text(pipeline)
    (repo / "out").mkdir()
    (repo / "out/.keep").write_text("")
    subprocess.run([*git, "add", "-A"], check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "bench"], check=True, env=env)
    _cli(repo, env, "init")
    subprocess.run([*git, "add", "-A"], check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "init", "--allow-empty"], check=True, env=env)
    return repo, env


def ray_overhead(stages: int) -> list[tuple[str, str, str, str]]:
    """The Ray rows (whole process, excluding connect, marginal): see ray_overhead.py."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ray_overhead import ray_overhead as measure

    return measure(stages)


def object_store(object_mib: int, deps: int) -> list[tuple[str, str, str, str]]:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    aws = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(aws)
    rows: list[tuple[str, str, str, str]] = []
    try:
        s3: Any = boto3.client("s3")
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="big.bin", Body=os.urandom(object_mib * MIB))
        start = time.perf_counter()
        body = s3.get_object(Bucket="bench", Key="big.bin")["Body"]
        while body.read(8 * MIB):
            pass
        download = time.perf_counter() - start
        from auditpipe.storage.objects import fingerprint_urls

        start = time.perf_counter()
        fingerprint_urls(["s3://bench/big.bin"])
        ours = time.perf_counter() - start
        ratio = download / ours
        rows += [
            (f"{object_mib} MiB object, boto3 download", f"{download:.2f} s", "baseline", ""),
            (
                f"{object_mib} MiB object, fingerprint (sha256 streamed)",
                f"{ours:.2f} s",
                f"{ratio:.2f}x of download speed (>= 0.8x)",
                "yes" if ratio >= 0.8 else "**no**",
            ),
        ]
        for i in range(deps):
            s3.put_object(Bucket="bench", Key=f"many/{i}.txt", Body=str(i).encode())
        listed = ", ".join(f"s3://bench/many/{i}.txt" for i in range(deps))
        pipeline = f"stages:\n  s:\n    cmd: 'true'\n    deps: [{listed}]\n    outs: [out/x]\n"
        with tempfile.TemporaryDirectory() as tmp:
            repo, env = _repo(Path(tmp), pipeline, aws)
            status = min(_cli(repo, env, "status") for _ in range(2))
        rows.append(
            (
                f"no-op status, {deps} S3 deps",
                f"{status:.2f} s",
                "<= 1 s",
                "yes" if status <= 1 else "**no**",
            )
        )
    finally:
        server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=20)
    parser.add_argument("--object-mib", type=int, default=256)
    parser.add_argument("--deps", type=int, default=1000)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    rows = [] if args.skip_ray else ray_overhead(args.stages)
    rows += object_store(args.object_mib, args.deps)
    table = ["| figure | measured | ratio / target | met |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = "\n".join(table)
    print(text)
    if args.output:
        command = "python bench/executors.py " + " ".join(sys.argv[1:])
        args.output.write_text(
            f"# Scale: executors and object stores\n\n`{command}` "
            f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.1f})"
            f"\n\n{text}\n"
        )


if __name__ == "__main__":
    main()
