"""The example-get-started structure under auditpipe and DVC: no-op status and run.

    .venv/bin/python bench/get_started.py [--with-dvc] [--repeat 5] [--output bench/RESULTS_dvc.md]

The dvc.yaml of iterative/example-get-started (prepare, featurize, train,
evaluate; params from params.yaml; data/data.xml tracked by a .dvc file;
top-level metrics and plots) with a small generated data file, read as it is
by auditpipe in one repository and by DVC in another. After one full run in
each, the no-op ``auditpipe status``/``run`` are timed against ``dvc
status``/``dvc repro`` in the same process of this script, best and median of
``--repeat`` runs. Helpers (environment, DVC side venv) come from
``bench/pipeline.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
from pathlib import Path

import pipeline as base  # bench/pipeline.py: same environment and DVC venv

WORK = base.WORK / "get-started"

STEP = """\
import hashlib, json, os, sys
args = sys.argv[1:]
out, inputs = args[0], args[1:]
h = hashlib.sha256()
for path in inputs:
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)
    for f in files:
        h.update(open(f, "rb").read())
if out.startswith("dir:"):
    out = out[4:]
    os.makedirs(out + "/plots", exist_ok=True)
    open(out + "/part.txt", "w").write(h.hexdigest())
    json.dump({"auc": 0.5}, open(out + "/metrics.json", "w"))
    json.dump([{"fpr": 0, "tpr": 0}, {"fpr": 1, "tpr": 1}], open(out + "/plots/roc.json", "w"))
else:
    open(out, "w").write(h.hexdigest())
"""

DVC_YAML = """\
stages:
  prepare:
    cmd: {py} src/step.py dir:data/prepared data/data.xml
    deps: [data/data.xml, src/step.py]
    params: [prepare.seed, prepare.split]
    outs: [data/prepared]
  featurize:
    cmd: {py} src/step.py dir:data/features data/prepared
    deps: [data/prepared, src/step.py]
    params: [featurize.max_features, featurize.ngrams]
    outs: [data/features]
  train:
    cmd: {py} src/step.py model.pkl data/features
    deps: [data/features, src/step.py]
    params: [train.min_split, train.n_est, train.seed]
    outs: [model.pkl]
  evaluate:
    cmd: {py} src/step.py dir:eval model.pkl data/features
    deps: [data/features, model.pkl, src/step.py]
    outs: [eval]
metrics:
- eval/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y:
      eval/plots/roc.json: tpr
"""

PARAMS = """\
prepare: {split: 0.2, seed: 20170428}
featurize: {max_features: 200, ngrams: 2}
train: {seed: 20170428, n_est: 50, min_split: 0.01}
"""


def make_repo(path: Path, tool: str, rows: int) -> None:
    if path.exists():
        shutil.rmtree(path)
    (path / "src").mkdir(parents=True)
    (path / "data").mkdir()
    (path / "dvc.yaml").write_text(DVC_YAML.format(py=base.STAGE_PY))
    (path / "params.yaml").write_text(PARAMS)
    (path / "src/step.py").write_text(STEP)
    data = "\n".join(
        f"<row Id='{i}' Body='{hashlib.sha256(str(i).encode()).hexdigest()}'/>" for i in range(rows)
    )
    (path / "data/data.xml").write_text(f"<posts>\n{data}\n</posts>\n")
    base.run(["git", "init", "-q", "-b", "main"], path)
    dvc = str(base.DVC_VENV / "bin" / "dvc")
    if tool == "dvc":
        base.run([dvc, "init", "-q"], path)
        base.run([dvc, "add", "-q", "data/data.xml"], path)
    else:
        # The .dvc file as DVC writes it; auditpipe fingerprints data/data.xml itself.
        digest = hashlib.md5((path / "data/data.xml").read_bytes()).hexdigest()
        (path / "data/data.xml.dvc").write_text(f"outs:\n- md5: {digest}\n  path: data.xml\n")
        (path / "data/.gitignore").write_text("/data.xml\n")
        base.run([*base.AUDITPIPE, "init"], path)
    base.run(["git", "add", "-A"], path)
    base.run(["git", "commit", "-q", "-m", "get-started"], path)


def best_median(samples: list[float]) -> str:
    return f"{min(samples):.3f} s / {statistics.median(samples):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-dvc", action="store_true", help="install DVC if needed")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2000, help="rows of the generated data")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    base.dvc_config_dirs()
    version = base.dvc_available(args.with_dvc)
    ours, theirs = WORK / "auditpipe", WORK / "dvc"
    make_repo(ours, "auditpipe", args.rows)
    base.run([*base.AUDITPIPE, "run"], ours)
    times: dict[str, list[float]] = {
        k: [] for k in ("ap_status", "ap_run", "dvc_status", "dvc_repro")
    }
    if version:
        make_repo(theirs, "dvc", args.rows)
        base.run([str(base.DVC_VENV / "bin" / "dvc"), "repro"], theirs)
    load_start = os.getloadavg()
    dvc = str(base.DVC_VENV / "bin" / "dvc")
    for _ in range(args.repeat):
        times["ap_status"].append(base.timed([*base.AUDITPIPE, "status"], ours, "up to date"))
        times["ap_run"].append(base.timed([*base.AUDITPIPE, "run"], ours, "skipped"))
        if version:
            times["dvc_status"].append(base.timed([dvc, "status"], theirs, "up to date"))
            times["dvc_repro"].append(base.timed([dvc, "repro"], theirs, "didn't change"))
    load_end = os.getloadavg()
    lines = [
        "# example-get-started under auditpipe and DVC",
        "",
        f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`;",
        f"DVC: {version or 'not measured'}; "
        f"load average {load_start[0]:.1f} -> {load_end[0]:.1f} (2 cores, shared).",
        "",
        "| figure | auditpipe (best / median) | DVC (best / median) | ratio (DVC / auditpipe) |",
        "|---|---|---|---|",
    ]
    for label, a, d in (
        ("no-op status", "ap_status", "dvc_status"),
        ("no-op run", "ap_run", "dvc_repro"),
    ):
        ratio = f"{min(times[d]) / min(times[a]):.2f}x" if times[d] else "-"
        dvc_cell = best_median(times[d]) if times[d] else "not measured (--with-dvc)"
        lines.append(f"| {label} | {best_median(times[a])} | {dvc_cell} | {ratio} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
