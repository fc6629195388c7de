"""Gates that overlap the stage, `suite init`, `report`: whole processes, this code vs before.

    python bench/overlap.py [--repeat 3] [--stage-seconds 5] [--before REV] [--output FILE]

Every figure is the wall time of fresh ``python -m auditpipe`` processes (best
of ``--repeat``, configurations interleaved), for this working tree ("after")
and for the package as it was at ``--before`` (default: the merge base with
``main``, exported with ``git archive``; "before"), each through its own
PYTHONPATH, in one run, with the load average at start and end:

- **gate overhead**: ``auditpipe run --force`` of one stage that burns one core
  for ``--stage-seconds`` then writes the example's wine data as Parquet, with
  one Great Expectations gate, minus the same run of the same stage without the
  gate. Baseline: a process that only imports GX and validates that data once.
  Goal: <= +1.0 s.
- **suite init** on the example's train data (``src/prepare.py`` of
  examples/wine-quality), against a process that imports GX, reads the data
  and validates the drafted suite once. Goal: <= that + 1 s.
- **report** of the example-sized 4-stage lineage of ``bench/report.py``.
  Baseline: a process that imports WeasyPrint and writes a one-line PDF.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "wine-quality"
PY = sys.executable
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
STAGE = """\
import sys, time
import pyarrow.csv as pacsv, pyarrow.parquet as pq

start = time.perf_counter()
while time.perf_counter() - start < float(sys.argv[1]):  # one core, busy
    pass
pq.write_table(pacsv.read_csv("wine.csv"), "wine.parquet")
"""
SUITE = """\
{"name": "wine", "meta": {}, "expectations": [
  {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 100}, "meta": {}},
  {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "alcohol"}, "meta": {}},
  {"type": "expect_column_values_to_be_between",
   "kwargs": {"column": "alcohol", "min_value": 10, "max_value": 16}, "meta": {}},
  {"type": "expect_column_values_to_be_in_set",
   "kwargs": {"column": "cultivar", "value_set": [0, 1, 2]}, "meta": {}}
]}
"""
# What a user validating by hand pays: import GX, read the data, one validation.
GX_ALONE = """\
import sys, json
import great_expectations as gx
import pandas as pd
from great_expectations.core.expectation_suite import ExpectationSuite, ExpectationSuiteSchema

suite = ExpectationSuite(**ExpectationSuiteSchema().loads(open(sys.argv[2]).read()))
context = gx.get_context(mode="ephemeral")
batch = (context.data_sources.add_pandas("p").add_dataframe_asset("a")
         .add_batch_definition_whole_dataframe("b")
         .get_batch(batch_parameters={"dataframe": pd.read_parquet(sys.argv[1])}))
assert batch.validate(suite).success
"""
WEASYPRINT_ALONE = (
    "import sys, weasyprint; weasyprint.HTML(string='<p>x</p>').write_pdf(sys.argv[1])"
)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stderr}")
    return time.perf_counter() - start


def best(repeat: int, sides: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Best of ``repeat`` for each side, the order of the sides alternating."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for i in range(repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            times[name].append(sides[name]())
    return {name: min(values) for name, values in times.items()}


def export(rev: str, dest: Path) -> Path:
    """The package as it was at ``rev``, for PYTHONPATH."""
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev, "auditpipe"], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def project(path: Path, files: dict[str, str], env: dict[str, str]) -> Path:
    """A git repository after ``auditpipe init``, with ``files`` committed."""
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    shutil.copy(EXAMPLE / "data/raw/wine.csv", path / "wine.csv")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True, env=env)
    run([PY, "-m", "auditpipe", "init"], path, env)
    subprocess.run(["git", "add", "-A"], cwd=path, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "bench"], cwd=path, check=True, env=env)
    return path


def pipeline(seconds: float, gated: bool) -> str:
    text = (
        f"stages:\n  make:\n    cmd: {PY} stage.py {seconds:g}\n"
        "    deps: [stage.py, wine.csv]\n    outs: [wine.parquet]\n"
    )
    return text + ("    validate:\n      wine.parquet: suite.json\n" if gated else "")


def gate_rows(work: Path, envs: dict[str, dict[str, str]], args: argparse.Namespace) -> list[str]:
    env = envs["after"]
    repos = {
        gated: project(
            work / ("gated" if gated else "plain"),
            {
                "auditpipe.yaml": pipeline(args.stage_seconds, gated),
                "stage.py": STAGE,
                "suite.json": SUITE,
                ".gitignore": "wine.parquet\n",
            },
            env,
        )
        for gated in (True, False)
    }
    for repo in repos.values():
        run([PY, "-m", "auditpipe", "run"], repo, env)
    force = [PY, "-m", "auditpipe", "run", "--force"]
    sides = {
        f"{side} {'gate' if gated else 'plain'}": (
            lambda r=repo, e=envs[side]: run(force, r, e)  # type: ignore[misc]
        )
        for side in envs
        for gated, repo in repos.items()
    }
    data, suite = repos[True] / "wine.parquet", repos[True] / "suite.json"
    sides["GX import + validate alone"] = lambda: run(
        [PY, "-c", GX_ALONE, str(data), str(suite)], work, env
    )
    t = best(args.repeat, sides)
    alone = t["GX import + validate alone"]
    rows = []
    for side in envs:
        extra = t[f"{side} gate"] - t[f"{side} plain"]
        met = "yes" if extra <= 1.0 else "**no**"
        rows.append(
            f"| gate overhead, {args.stage_seconds:g}-s stage + 1 GX gate, `run --force` ({side}) "
            f"| {t[f'{side} gate']:.2f} s − {t[f'{side} plain']:.2f} s = **+{extra:.2f} s** "
            f"| GX import + validate alone {alone:.2f} s | {extra / alone:.2f} of it "
            f"| <= +1.0 s | {met} |"
        )
    return rows


def suite_init_rows(
    work: Path, envs: dict[str, dict[str, str]], args: argparse.Namespace
) -> list[str]:
    env = envs["after"]
    example = work / "example"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("prepared"))
    run([PY, "src/prepare.py"], example, env)
    data = example / "data/prepared/train.parquet"
    init = ["suite", "init", "data/prepared/train.parquet", "--force", "-o"]
    sides = {
        side: (
            lambda e=envs[side], s=side: run(
                [PY, "-m", "auditpipe", *init, f"{s}.json"], example, e
            )  # type: ignore[misc]
        )
        for side in envs
    }
    sides["after"]()  # the suite the baseline validates
    suite = example / "after.json"
    sides["GX import + validate alone"] = lambda: run(
        [PY, "-c", GX_ALONE, str(data), str(suite)], work, env
    )
    t = best(args.repeat, sides)
    alone = t["GX import + validate alone"]
    return [
        f"| `suite init` on the example's train data ({side}) | {t[side]:.2f} s "
        f"| GX import + one validation {alone:.2f} s | {t[side] - alone:+.2f} s "
        f"| <= +1.0 s | {'yes' if t[side] - alone <= 1.0 else '**no**'} |"
        for side in envs
    ]


def report_rows(work: Path, envs: dict[str, dict[str, str]], args: argparse.Namespace) -> list[str]:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    os.environ.update(envs["after"])
    from report import example_pipeline, repository  # bench/report.py

    from auditpipe.ledger.ledger import Ledger

    repo = work / "report"
    repository(repo, envs["after"])
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        with Ledger.open(repo) as ledger:
            artifact = example_pipeline(ledger)
    finally:
        os.chdir(cwd)
    cmd = [PY, "-m", "auditpipe", "report", artifact, "-o", "r.pdf"]
    sides = {side: (lambda e=envs[side]: run(cmd, repo, e)) for side in envs}  # type: ignore[misc]
    sides["WeasyPrint alone"] = lambda: run(
        [PY, "-c", WEASYPRINT_ALONE, "b.pdf"], repo, envs["after"]
    )
    t = best(args.repeat, sides)
    alone = t["WeasyPrint alone"]
    return [
        f"| `report`, example-sized 4-stage lineage ({side}) | {t[side]:.2f} s "
        f"| WeasyPrint one-line PDF {alone:.2f} s | {t[side] / alone:.2f}x | - | - |"
        for side in envs
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stage-seconds", type=float, default=5.0)
    parser.add_argument(
        "--before", default=None, help="git revision (default: merge base with main)"
    )
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--only", choices=["gate", "init", "report"], action="append")
    args = parser.parse_args()
    output = args.output.resolve() if args.output else None
    before = (
        args.before
        or subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="auditpipe-bench-overlap-"))
    try:
        base = {**os.environ, **GIT_ENV, "AUDITPIPE_CONFIG_DIR": str(work / "config")}
        envs = {
            "after": {**base, "PYTHONPATH": str(ROOT)},
            "before": {**base, "PYTHONPATH": str(export(before, work / "before"))},
        }
        rows: list[str] = []
        for name, make in (("gate", gate_rows), ("init", suite_init_rows), ("report", report_rows)):
            if not args.only or name in args.only:
                rows += make(work, envs, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_end = os.getloadavg()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "| figure | measured | baseline (same run) | vs baseline | goal | met |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, after = {head} (+ working tree), before = "
        f"{before[:12]}; best of {args.repeat}, sides interleaved; {os.cpu_count()} CPUs; "
        f"load average (1, 5, 15 min) at start {_load(load_start)}, at end {_load(load_end)}.",
    ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if output:
        output.write_text(text)
    return 0


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    raise SystemExit(main())
