"""Benchmark of S3 dependencies: prints a table of ratios, appends it to RESULTS_objects.md.

Usage::

    .venv/bin/python bench/objects.py [--object-mib 256] [--deps 1000] [--repeat 3]
                                      [--output bench/RESULTS_objects.md]

Figures, each against a baseline measured in this one run, on a loopback S3
server (moto's ``ThreadedMotoServer``, in this process):

1. fingerprinting one ``--object-mib`` object (cold: no metadata cache) against
   a plain boto3 download of the same object (``get_object`` body read in 8 MiB
   chunks and dropped), and against fingerprinting it through botocore's
   ``iter_chunks`` (the reader small objects use); best of ``--repeat`` each,
   interleaved;
2. a no-op ``auditpipe status`` (a real subprocess) of one stage with ``--deps``
   unchanged S3 objects, after one ``auditpipe run``, against one boto3
   listing of the same prefix and against ``auditpipe status`` of the same
   stage with no S3 deps (the CLI's floor); the S3 requests the status sent
   are counted from the server's log.

Work files live under a temporary directory; nothing is left behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIB = 2**20
ROOT = Path(__file__).resolve().parent.parent
Row = tuple[str, str, str, str]


class _Requests(logging.Handler):
    """Counts the S3 requests the server logs (werkzeug's access log), by method."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def summary(self) -> str:
        gets = sum('"GET /bench/' in line for line in self.lines)
        lists = sum('"GET /bench?' in line for line in self.lines)
        heads = sum('"HEAD /bench/' in line for line in self.lines)
        return f"{lists} listing, {heads} HEAD, {gets} GET"


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
    (repo / "out").mkdir(parents=True)
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
    (repo / "out/.keep").write_text("")
    subprocess.run([*git, "add", "-A"], check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "bench"], check=True, env=env)
    _cli(repo, env, "init")
    subprocess.run([*git, "add", "-A"], check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "init", "--allow-empty"], check=True, env=env)
    return repo, env


def _pipeline(deps: list[str]) -> str:
    listed = ", ".join(["stage.sh", *deps])
    return f"stages:\n  s:\n    cmd: touch out/x\n    deps: [{listed}]\n    outs: [out/x]\n"


def hashing(s3: Any, object_mib: int, repeat: int) -> list[Row]:
    from auditpipe.storage import s3body
    from auditpipe.storage.objects import fingerprint_urls

    s3.put_object(Bucket="bench", Key="big.bin", Body=os.urandom(object_mib * MIB))
    downloads, ours, botocore_reader = [], [], []
    direct = s3body.DIRECT_MIN_BYTES
    for _ in range(repeat):
        start = time.perf_counter()
        body = s3.get_object(Bucket="bench", Key="big.bin")["Body"]
        while body.read(8 * MIB):
            pass
        downloads.append(time.perf_counter() - start)
        start = time.perf_counter()
        fingerprint_urls(["s3://bench/big.bin"])  # no state_dir: no cache, always read
        ours.append(time.perf_counter() - start)
        s3body.DIRECT_MIN_BYTES = 1 << 62  # the reader small objects use (and all did before)
        start = time.perf_counter()
        fingerprint_urls(["s3://bench/big.bin"])
        botocore_reader.append(time.perf_counter() - start)
        s3body.DIRECT_MIN_BYTES = direct
    download, mine, before = min(downloads), min(ours), min(botocore_reader)
    ratio = download / mine
    s3.delete_object(Bucket="bench", Key="big.bin")
    # Three digits and the unrounded comparison: 0.797x must not print as a met "0.80x".
    return [
        (f"{object_mib} MiB object, boto3 download", f"{download:.3f} s", "baseline", ""),
        (
            f"{object_mib} MiB object, fingerprint (sha256, one GET pinned to the ETag)",
            f"{mine:.3f} s",
            f"{ratio:.3f}x of download speed (goal >= 0.8x)",
            "yes" if ratio >= 0.8 else "**no**",
        ),
        (
            f"{object_mib} MiB object, fingerprint read through botocore's iter_chunks "
            "(small objects' reader; every object's before 3ba3cbf)",
            f"{before:.3f} s",
            f"{download / before:.3f}x of download speed; readinto reader {before / mine:.3f}x "
            "as fast",
            "",
        ),
    ]


def noop_status(s3: Any, aws: dict[str, str], deps: int, repeat: int, log: _Requests) -> list[Row]:
    for i in range(deps):
        s3.put_object(Bucket="bench", Key=f"many/{i}.txt", Body=str(i).encode())
    start = time.perf_counter()
    for _ in range(repeat):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="many/")
        listed = sum(len(page.get("Contents", ())) for page in pages)
    listing = (time.perf_counter() - start) / repeat
    assert listed == deps
    urls = [f"s3://bench/many/{i}.txt" for i in range(deps)]
    times: dict[str, float] = {}
    for name, stage_deps in (("floor", []), ("s3", urls)):
        with tempfile.TemporaryDirectory() as tmp:
            repo, env = _repo(Path(tmp), _pipeline(stage_deps), aws)
            (repo / "stage.sh").write_text("")
            _cli(repo, env, "run")  # hashes each object once; the status below is a no-op
            log.lines.clear()
            times[name] = min(_cli(repo, env, "status") for _ in range(repeat))
            requests = log.summary()
    status = times["s3"]
    return [
        (
            f"one boto3 listing of the {deps} objects (paginated)",
            f"{listing:.2f} s",
            "baseline",
            "",
        ),
        ("no-op status, same stage without S3 deps (CLI floor)", f"{times['floor']:.2f} s", "", ""),
        (
            f"no-op status, {deps} unchanged S3 deps ({requests} over {repeat} runs)",
            f"{status:.3f} s",
            f"{status / listing:.1f}x the listing; {status - times['floor']:.2f} s over the "
            "floor (goal <= 1 s)",
            "yes" if status <= 1 else "**no**",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--object-mib", type=int, default=256)
    parser.add_argument("--deps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    import boto3
    from moto.server import ThreadedMotoServer

    log = _Requests()
    logging.getLogger("werkzeug").addHandler(log)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(aws)
    try:
        s3: Any = boto3.client("s3")
        s3.create_bucket(Bucket="bench")
        rows = hashing(s3, args.object_mib, args.repeat)
        rows += noop_status(s3, aws, args.deps, args.repeat, log)
    finally:
        server.stop()
    load = os.getloadavg()
    rows.append(
        ("load average (1, 5, 15 min) at the end", " ".join(f"{x:.1f}" for x in load), "", "")
    )
    table = ["| figure | measured | ratio / target | met |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = "\n".join(table)
    print(text)
    if args.output:
        command = "python bench/objects.py " + " ".join(sys.argv[1:])
        # Appended: on a shared machine one run is one sample; the file keeps them all.
        head = "" if args.output.exists() else "# Object stores: S3 deps, fingerprints, status\n"
        with args.output.open("a") as out:
            out.write(
                f"{head}\n## `{command}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
                f" 2 cores shared with other work)\n\n{text}\n"
            )


if __name__ == "__main__":
    main()
