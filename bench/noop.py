"""No-op ``status`` / ``run`` against DVC, every row in one run (issue 18).

    /work/main/.venv/bin/python bench/noop.py [--repeat 7] [--output bench/RESULTS_noop.md]

Rows: no-op ``status`` and ``run`` on 50 stages x 20 files against ``dvc status`` /
``dvc repro``; no-op ``status`` on 4 small stages with one CSV dependency, and on
DVC's example-get-started shape (``bench/get_started.py``), against ``dvc status``.
Each figure is the median of ``--repeat`` whole processes, the tools interleaved;
the load average is printed before and after. DVC comes from ``bench/_work/dvc-venv``
or the tests' side venv under ``~/.cache/auditpipe-tests``. Repositories are built
with ``bench/pipeline.py``'s helpers; files are aged past the stat cache's racy
window (2 s) after the first run, as they are minutes after a user's run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import get_started
import pipeline as base

SMALL = """\
params: params.yaml
stages:
  prepare:
    cmd: {py} -c "import shutil; shutil.copy('data/raw.csv', 'out/prepared.csv')"
    deps: [data/raw.csv]
    params: [prepare]
    outs: [out/prepared.csv]
  featurize:
    cmd: {py} -c "open('out/features.csv', 'w').write(open('out/prepared.csv').read())"
    deps: [out/prepared.csv]
    outs: [out/features.csv]
  train:
    cmd: {py} -c "open('out/model.txt', 'w').write(open('out/features.csv').read()[:99])"
    deps: [out/features.csv]
    params: [train]
    outs: [out/model.txt]
  evaluate:
    cmd: {py} -c "open('out/metrics.json', 'w').write('{{}}')"
    deps: [out/model.txt]
    outs: [out/metrics.json]
"""


def find_dvc() -> Path | None:
    candidates = [base.DVC_VENV, *sorted(Path.home().glob(".cache/auditpipe-tests/venv-dvc*"))]
    for venv in candidates:
        if (venv / "bin" / "dvc").exists():
            base.DVC_VENV = venv
            get_started.base.DVC_VENV = venv
            return venv / "bin" / "dvc"
    return None


def settle(root: Path) -> None:
    old = time.time() - 60
    for path in root.rglob("*"):
        if ".git" not in path.parts and ".dvc" not in path.parts and path.is_file():
            os.utime(path, (old, old))


def small_repo(path: Path, tool: str) -> None:
    rows = "".join(f"{i},{i * 7 % 13},{i * 0.5}\n" for i in range(5000))
    inputs = {"data/raw.csv": ("a,b,c\n" + rows).encode()}
    text = SMALL.format(py=base.STAGE_PY)
    if tool == "dvc":  # DVC reads params.yaml by default; its top-level params: is a list
        text = text.removeprefix("params: params.yaml\n")
    stages: list[base.Stage] = []
    repo = base.make_repo(path, stages, inputs, tool)
    name = "auditpipe.yaml" if tool == "auditpipe" else "dvc.yaml"
    (repo / name).write_text(text)
    (repo / "params.yaml").write_text("prepare:\n  seed: 1\ntrain:\n  epochs: 3\n")
    base.run(["git", "add", "-A"], repo)
    base.run(["git", "commit", "-q", "-m", "small"], repo)


def prepared(ap: Path, dv: Path | None, dvc: Path | None) -> None:
    base.run([*base.AUDITPIPE, "run"], ap)
    if dv is not None and dvc is not None:
        base.run([str(dvc), "repro"], dv)
    for repo in (ap, dv):
        if repo is not None:
            settle(repo)
    base.run([*base.AUDITPIPE, "status"], ap)  # the full path verifies and records
    if dv is not None and dvc is not None:
        base.run([str(dvc), "status"], dv)


def row(figure: str, ours: list[float], theirs: list[float], label: str, goal: float) -> str:
    a, b = statistics.median(ours), statistics.median(theirs) if theirs else float("nan")
    ratio = b / a
    met = "yes" if ratio >= goal else "no"
    return f"| {figure} | {a:.3f} s | {label} {b:.3f} s | {ratio:.2f}x | >= {goal}x | {met} |"


def measure(cmds: list[tuple[list[str], Path, str]], repeat: int) -> list[list[float]]:
    samples: list[list[float]] = [[] for _ in cmds]
    for _ in range(repeat):  # interleaved, so drift in load hits every tool alike
        for i, (cmd, cwd, expect) in enumerate(cmds):
            samples[i].append(base.timed(cmd, cwd, expect=expect))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    dvc = find_dvc()
    if dvc is None:
        raise SystemExit("DVC not found: run bench/pipeline.py --with-dvc once, or the DVC tests")
    base.dvc_config_dirs()
    work = base.WORK / "noop"
    loads = [("start", os.getloadavg())]
    ap_status = [*base.AUDITPIPE, "status"]
    rows = []

    stages, inputs = base.noop_pipeline(50, 20)
    big_ap = base.make_repo(work / "big-auditpipe", stages, inputs, "auditpipe")
    big_dv = base.make_repo(work / "big-dvc", stages, inputs, "dvc")
    prepared(big_ap, big_dv, dvc)
    st, rn, dst, drp = measure(
        [
            (ap_status, big_ap, "up to date"),
            ([*base.AUDITPIPE, "run"], big_ap, "every stage is up to date"),
            ([str(dvc), "status"], big_dv, "up to date"),
            ([str(dvc), "repro"], big_dv, "up to date"),
        ],
        args.repeat,
    )
    rows.append(row("no-op `status`, 50 stages x 20 files", st, dst, "`dvc status`", 5))
    rows.append(row("no-op `run`, 50 stages x 20 files", rn, drp, "`dvc repro`", 5))
    loads.append(("after 50 x 20", os.getloadavg()))

    small_ap, small_dv = work / "small-auditpipe", work / "small-dvc"
    small_repo(small_ap, "auditpipe")
    small_repo(small_dv, "dvc")
    prepared(small_ap, small_dv, dvc)
    st, dst = measure(
        [(ap_status, small_ap, "up to date"), ([str(dvc), "status"], small_dv, "up to date")],
        args.repeat,
    )
    rows.append(row("no-op `status`, 4 small stages, one CSV dep", st, dst, "`dvc status`", 3))

    gs_ap, gs_dv = work / "gs-auditpipe", work / "gs-dvc"
    get_started.make_repo(gs_ap, "auditpipe", 2000)
    get_started.make_repo(gs_dv, "dvc", 2000)
    prepared(gs_ap, gs_dv, dvc)
    st, dst = measure(
        [(ap_status, gs_ap, "up to date"), ([str(dvc), "status"], gs_dv, "up to date")],
        args.repeat,
    )
    rows.append(row("no-op `status`, example-get-started", st, dst, "`dvc status`", 3))
    loads.append(("end", os.getloadavg()))

    head = "| figure | auditpipe | baseline | ratio | goal | met |\n|---|---|---|---|---|---|"
    load_text = "; ".join(f"{w}: {a:.2f} {b:.2f} {c:.2f}" for w, (a, b, c) in loads)
    text = f"{head}\n" + "\n".join(rows) + f"\n\nload average (1/5/15 min): {load_text}\n"
    text += f"medians of {args.repeat} runs; {Path(sys.executable).name} {sys.version.split()[0]}\n"
    print(text)
    if args.output:
        args.output.write_text(
            "# No-op status / run against DVC (issue 18)\n\n"
            f"    {Path(sys.executable)} bench/noop.py --repeat {args.repeat}"
            f" --output {args.output}\n\n{text}"
        )


if __name__ == "__main__":
    main()
