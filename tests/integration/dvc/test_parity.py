"""Parity with DVC: over the same edits, auditpipe executes exactly the stages DVC executes.

Built on the structure of iterative/example-get-started (its real data file is
unreachable, so a small one is generated) and the scenarios of DVC's
``tests/func/repro`` that apply. Slow: DVC runs from a side venv.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from tests.integration.dvc.harness import Twin, dvc_binary

pytestmark = pytest.mark.slow

# One script for every stage: out, inputs..., then `--` and arguments; the output
# depends only on the inputs' bytes and the arguments (deterministic).
STEP = """\
import hashlib, json, os, sys
args = sys.argv[1:]
extra = args[args.index("--") + 1:] if "--" in args else []
args = args[: args.index("--")] if "--" in args else args
out, inputs = args[0], args[1:]
h = hashlib.sha256(" ".join(extra).encode())
for path in inputs:
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)
    for f in files:
        h.update(open(f, "rb").read())
if out.startswith("dir:"):
    out = out[4:]
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "part.txt"), "w").write(h.hexdigest())
    if "metrics" in extra:
        json.dump({"auc": int(h.hexdigest()[:4], 16) / 65535}, open(f"{out}/metrics.json", "w"))
        os.makedirs(f"{out}/plots", exist_ok=True)
        json.dump([{"fpr": 0, "tpr": 0}, {"fpr": 1, "tpr": 1}], open(f"{out}/plots/roc.json", "w"))
else:
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    open(out, "w").write(h.hexdigest())
"""

GET_STARTED = """\
stages:
  prepare:
    cmd: python3 src/step.py dir:data/prepared data/data.xml -- ${prepare.split} ${prepare.seed}
    deps: [data/data.xml, src/step.py]
    params: [prepare.seed, prepare.split]
    outs: [data/prepared]
  featurize:
    cmd: python3 src/step.py dir:data/features data/prepared -- ${featurize.max_features}
    deps: [data/prepared, src/step.py]
    params: [featurize.max_features, featurize.ngrams]
    outs: [data/features]
  train:
    cmd: python3 src/step.py model.pkl data/features
    deps: [data/features, src/step.py]
    params: [train.min_split, train.n_est, train.seed]
    outs: [model.pkl]
  evaluate:
    cmd: python3 src/step.py dir:eval model.pkl data/features -- metrics
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


def _data() -> str:
    rows = [
        f"<row Id='{i}' Body='{hashlib.sha256(str(i).encode()).hexdigest()}'/>" for i in range(50)
    ]
    return "<posts>\n" + "\n".join(rows) + "\n</posts>\n"


@pytest.fixture(scope="module")
def dvc() -> Path:
    return dvc_binary()


def _same(twin: Twin, expected: set[str], *, failed: bool = False) -> None:
    theirs, ours = twin.repro()
    assert (theirs.code != 0) == failed, theirs.output
    assert (ours.code != 0) == failed, ours.output
    assert theirs.executed == expected, theirs.output
    assert ours.executed == theirs.executed, ours.output


def _lose(rel: str):  # type: ignore[no-untyped-def]
    """Delete an output and every cached copy (either tool would restore a cached one)."""

    def change(root: Path) -> None:
        (root / rel).unlink()
        # the auditpipe twin: its output cache (it would restore the output too)
        shutil.rmtree(root / ".git" / "auditpipe" / "cache", ignore_errors=True)
        lock = root / "dvc.lock"
        if lock.exists():  # the DVC twin: drop that output's object from DVC's cache
            for stage in yaml.safe_load(lock.read_text())["stages"].values():
                for out in stage.get("outs", []):
                    if out["path"] == rel:
                        md5 = out["md5"]
                        (root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).unlink()

    return change


def _replace(rel: str, old: str, new: str):  # type: ignore[no-untyped-def]
    def change(root: Path) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, (old, text)
        path.write_text(text.replace(old, new))

    return change


def test_example_get_started(tmp_path: Path, isolated_env: Path, dvc: Path) -> None:
    files = {"dvc.yaml": GET_STARTED, "params.yaml": PARAMS, "src/step.py": STEP}
    files["data/data.xml"] = _data()
    twin = Twin(tmp_path, dvc, files)
    twin.dvc_add("data/data.xml")  # the data is tracked by a .dvc file, as in the example
    everything = {"prepare", "featurize", "train", "evaluate"}
    _same(twin, everything)
    _same(twin, set())  # no-op
    # a param only train reads: train re-runs; its output is the same, so evaluate does not
    twin.edit(_replace("params.yaml", "n_est: 50", "n_est: 60"))
    _same(twin, {"train"})
    # a param interpolated into prepare's command: everything downstream follows
    twin.edit(_replace("params.yaml", "split: 0.2", "split: 0.3"))
    _same(twin, everything)
    # a command change with the same output: only that stage
    twin.edit(_replace("dvc.yaml", "model.pkl data/features\n", "model.pkl  data/features\n"))
    _same(twin, {"train"})
    twin.edit(lambda root: (root / "data/data.xml").write_text(_data() + "<!-- more -->\n"))
    _same(twin, everything)


TEMPLATED = """\
vars:
  - config.json
  - local: {greeting: hello}
stages:
  gen:
    foreach: ${models}
    do:
      cmd: python3 src/step.py out/${item}.txt data.txt -- ${item} ${local.greeting}
      deps: [data.txt, src/step.py]
      params:
        - config.toml: [train.epochs]
        - knobs.py: [Knobs.depth]
      outs: ["out/${item}.txt"]
  grid:
    matrix:
      model: ${models}
      size: [1, 2]
    cmd: python3 src/step.py grid/${item.model}-${item.size}.txt data.txt -- ${item.size}
    deps: [data.txt]
    outs: ["grid/${item.model}-${item.size}.txt"]
  report:
    wdir: sub
    cmd: python3 ../src/step.py report.txt ../out/a.txt
    deps: [../out/a.txt]
    params:
      - ../whole.json:
    outs: [report.txt]
  uncached:
    cmd: python3 src/step.py uncached.txt data.txt
    deps: [data.txt]
    outs:
      - uncached.txt: {persist: false}
  dirdep:
    cmd: python3 src/step.py dirdep.txt src
    deps: [src]
    outs: [dirdep.txt]
  phony:
    cmd: python3 -c "print('no deps and no outputs, so it runs every time')"
  clock:
    cmd: python3 src/step.py clock.txt data.txt
    deps: [data.txt]
    outs: [clock.txt]
    always_changed: true
  after_clock:
    cmd: python3 src/step.py after.txt clock.txt
    deps: [clock.txt]
    outs: [after.txt]
  frozen_one:
    cmd: python3 src/step.py frozen.txt data.txt -- frozen
    deps: [data.txt]
    outs: [frozen.txt]
    frozen: false
"""


PHONY = {"phony"}  # a stage without deps and outputs runs every time, in DVC too


def test_templating_params_files_frozen_always_changed(
    tmp_path: Path, isolated_env: Path, dvc: Path
) -> None:
    files = {
        "dvc.yaml": TEMPLATED,
        "params.yaml": "models: [a, b]\n",
        "config.json": '{"unused": 1}\n',
        "config.toml": "[train]\nepochs = 3\n",
        "knobs.py": "class Knobs:\n    depth = 4\n",
        "whole.json": '{"x": 1}\n',
        "data.txt": "data\n",
        "src/step.py": STEP,
        "sub/.keep": "",
    }
    twin = Twin(tmp_path, dvc, files)
    gens = {"gen@a", "gen@b"}
    grid = {"grid@a-1", "grid@a-2", "grid@b-1", "grid@b-2"}
    first = {"report", "uncached", "dirdep", "clock", "after_clock", "frozen_one"}
    _same(twin, gens | grid | first | PHONY)
    # no-op: only the always_changed and phony stages; clock's output is the same
    _same(twin, {"clock"} | PHONY)
    twin.edit(_replace("config.toml", "epochs = 3", "epochs = 4"))
    _same(twin, {"gen@a", "gen@b", "clock"} | PHONY)
    twin.edit(_replace("knobs.py", "depth = 4", "depth = 5"))
    _same(twin, {"gen@a", "gen@b", "clock"} | PHONY)
    twin.edit(_replace("whole.json", '"x": 1', '"x": 2'))
    _same(twin, {"report", "clock"} | PHONY)
    # a new file inside a directory dependency
    twin.edit(lambda root: (root / "src/extra.txt").write_text("more"))
    _same(twin, {"dirdep", "clock"} | PHONY)
    # a missing output that no cache can restore: its stage re-runs, nothing else
    twin.edit(_lose("uncached.txt"))
    _same(twin, {"uncached", "clock"} | PHONY)
    # the frozen stage's dependency changes: it stays as it is under both tools
    twin.edit(_replace("dvc.yaml", "frozen: false", "frozen: true"))
    twin.edit(_replace("data.txt", "data", "data2"))
    _same(twin, gens | grid | {"report", "uncached", "clock", "after_clock"} | PHONY)


def test_cycle_overlap_failing_list_frozen_missing_param_fail_under_both(
    tmp_path: Path, isolated_env: Path, dvc: Path
) -> None:
    cycle = """\
stages:
  one:
    cmd: python3 src/step.py a.txt b.txt
    deps: [b.txt]
    outs: [a.txt]
  two:
    cmd: python3 src/step.py b.txt a.txt
    deps: [a.txt]
    outs: [b.txt]
"""
    twin = Twin(tmp_path / "cycle", dvc, {"dvc.yaml": cycle, "src/step.py": STEP})
    _same(twin, set(), failed=True)
    overlap = """\
stages:
  one:
    cmd: python3 src/step.py a.txt
    outs: [a.txt]
  two:
    cmd: python3 src/step.py a.txt
    outs: [a.txt]
"""
    twin = Twin(tmp_path / "overlap", dvc, {"dvc.yaml": overlap, "src/step.py": STEP})
    _same(twin, set(), failed=True)
    failing = """\
stages:
  one:
    cmd:
      - python3 src/step.py a.txt
      - python3 -c "raise SystemExit(3)"
    outs: [a.txt]
  two:
    cmd: python3 src/step.py b.txt a.txt
    deps: [a.txt]
    outs: [b.txt]
"""
    twin = Twin(tmp_path / "failing", dvc, {"dvc.yaml": failing, "src/step.py": STEP})
    _same(twin, {"one"}, failed=True)  # the list stops at its failure; downstream never starts
    frozen = """\
stages:
  one:
    cmd: python3 src/step.py a.txt
    outs: [a.txt]
    frozen: true
"""
    twin = Twin(tmp_path / "frozen", dvc, {"dvc.yaml": frozen, "src/step.py": STEP})
    _same(twin, set(), failed=True)  # frozen with its output missing: an error in DVC too
    missing = """\
stages:
  one:
    cmd: python3 src/step.py a.txt
    params: [train.nope]
    outs: [a.txt]
"""
    files = {"dvc.yaml": missing, "params.yaml": "train: {lr: 1}\n", "src/step.py": STEP}
    twin = Twin(tmp_path / "missing", dvc, files)
    _same(twin, set(), failed=True)
