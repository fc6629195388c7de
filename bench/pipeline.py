"""Pipeline figures against DVC: no-op status/run, parallel first run, recording overhead.

    .venv/bin/python bench/pipeline.py [--with-dvc] [--stages 50] [--files 20] [--repeat 5]
                                       [--first-repeat 3] [--record-stages 50]
                                       [--output bench/RESULTS_pipeline.md]

Every figure is a whole process timed with ``time.perf_counter`` around
``subprocess.run`` (best and median of ``--repeat`` runs), except the in-process
recording figure, which drives the real ``Executor`` and ``PipelineRecorder``.

1. no-op ``auditpipe status`` / ``auditpipe run`` on ``--stages`` stages with
   ``--files`` input files each, after everything has run once, against
   ``dvc status`` / ``dvc repro`` on the same pipeline in its own git repo
   (target: >= 5x faster).
2. first run of ``--stages`` independent short stages (``python -I -S -c``
   writing one file) with ``auditpipe run -j 2``, against ``dvc repro``
   (target: >= 1.8x faster).
3. recording overhead per executed stage (everything but the command and data
   hashing, target <= 50 ms), two ways: whole process, ``(run --force -j 1)
   - (no-op run) - (the same commands in a shell loop)`` divided by the stage
   count; and in-process, the real Executor/PipelineRecorder with the command
   and fingerprinting time taken out of each stage's wall time.
4. the start-up floor: ``python -m auditpipe --version`` against ``python -c
   pass``, ``-X importtime`` totals, and cProfile of a no-op ``auditpipe status``.

DVC is installed into ``bench/_work/dvc-venv`` only with ``--with-dvc`` (an
existing one is reused when ``dvc --version`` works there). DVC runs with
analytics and update checks off and its site cache / global config under the
work dir, so it never reaches for the network. Work files live under
``bench/_work/pipeline`` (gitignored).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work" / "pipeline"
DVC_VENV = HERE / "_work" / "dvc-venv"
AUDITPIPE = [sys.executable, "-m", "auditpipe"]
# The stages' own interpreter: the real binary (not a pyenv shim), isolated, no site.
STAGE_PY = shlex.quote(os.path.realpath(sys.executable))


@dataclass
class Stage:
    name: str
    cmd: str
    deps: list[str]
    outs: list[str]


@dataclass
class Times:
    samples: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def show(self, unit: str = "s") -> str:
        if unit == "ms":
            return f"{self.best * 1000:.0f} ms (median {self.median * 1000:.0f})"
        return f"{self.best:.3f} s (median {self.median:.3f})"


@dataclass
class Row:
    figure: str
    measured: str
    baseline: str
    ratio: str
    target: str
    met: str


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    loads: list[tuple[str, tuple[float, float, float]]] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)

    def load(self, when: str) -> None:
        self.loads.append((when, os.getloadavg()))


# -- processes -----------------------------------------------------------------------


def environment() -> dict[str, str]:
    """Children see a warm bytecode cache, as on a user's machine.

    A shell with ``PYTHONDONTWRITEBYTECODE=1`` (as on this bench machine) would
    recompile every auditpipe module that has no up-to-date ``.pyc`` on each run;
    the cache goes to ``bench/_work/pycache`` so nothing is written beside the sources.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "PYTHONPYCACHEPREFIX": str(WORK / "pycache"),
            "AUDITPIPE_CONFIG_DIR": str(WORK / "config"),
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(WORK / "dvc-site-cache"),
            "DVC_GLOBAL_CONFIG_DIR": str(WORK / "dvc-global"),
            "DVC_SYSTEM_CONFIG_DIR": str(WORK / "dvc-system"),
            "DVC_UPDATER_ENDPOINT": "http://127.0.0.1:9/updater",
            "NO_COLOR": "1",
        }
    )
    return env


ENV = environment()


def run(cmd: Sequence[str], cwd: Path | None = None, *, check: bool = True) -> str:
    proc = subprocess.run(list(cmd), cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(
            f"{shlex.join(cmd)} failed ({proc.returncode}) in {cwd}:\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout + proc.stderr


def timed(cmd: Sequence[str], cwd: Path | None = None, expect: str | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or (expect is not None and expect not in proc.stdout + proc.stderr):
        raise SystemExit(
            f"{shlex.join(cmd)} in {cwd}: exit {proc.returncode}, expected {expect!r}:\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return elapsed


# -- repositories --------------------------------------------------------------------


def noop_pipeline(stages: int, files: int) -> tuple[list[Stage], dict[str, bytes]]:
    """``stages`` independent stages, each concatenating its own ``files`` inputs."""
    specs, inputs = [], {}
    for s in range(stages):
        deps = [f"data/s{s:02d}/f{f:02d}.txt" for f in range(files)]
        for f, dep in enumerate(deps):
            inputs[dep] = (f"stage {s} file {f}\n" * 64).encode()
        specs.append(
            Stage(
                f"s{s:02d}",
                f"cat data/s{s:02d}/f*.txt > out/s{s:02d}.txt",
                deps,
                [f"out/s{s:02d}.txt"],
            )
        )
    return specs, inputs


def python_pipeline(stages: int) -> tuple[list[Stage], dict[str, bytes]]:
    """``stages`` independent short stages, each a Python process writing one file."""
    specs, inputs = [], {}
    for s in range(stages):
        name = f"s{s:02d}"
        inputs[f"in/{name}.txt"] = f"input of {name}\n".encode()
        code = (
            "import os; os.makedirs('out', exist_ok=True); "
            f"open('out/{name}.txt', 'w').write(open('in/{name}.txt').read().upper())"
        )
        specs.append(
            Stage(name, f'{STAGE_PY} -I -S -c "{code}"', [f"in/{name}.txt"], [f"out/{name}.txt"])
        )
    return specs, inputs


def trivial_pipeline(stages: int) -> tuple[list[Stage], dict[str, bytes]]:
    """``stages`` independent stages whose command is one shell ``echo`` into a file."""
    specs, inputs = [], {}
    for s in range(stages):
        name = f"s{s:02d}"
        inputs[f"in/{name}.txt"] = f"input of {name}\n".encode()
        specs.append(
            Stage(name, f"echo {name} > out/{name}.txt", [f"in/{name}.txt"], [f"out/{name}.txt"])
        )
    return specs, inputs


def pipeline_yaml(stages: list[Stage]) -> str:
    """The same text serves as ``auditpipe.yaml`` and ``dvc.yaml`` (JSON-quoted scalars)."""
    lines = ["stages:"]
    for st in stages:
        lines.append(f"  {st.name}:")
        lines.append(f"    cmd: {json.dumps(st.cmd)}")
        lines.append(f"    deps: {json.dumps(st.deps)}")
        lines.append(f"    outs: {json.dumps(st.outs)}")
    return "\n".join(lines) + "\n"


def make_repo(path: Path, stages: list[Stage], inputs: dict[str, bytes], tool: str) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    run(["git", "init", "-q", "-b", "main"], path)
    for rel, data in inputs.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    (path / "out").mkdir()
    text = pipeline_yaml(stages)
    if tool == "auditpipe":
        (path / "auditpipe.yaml").write_text(text)
        run([*AUDITPIPE, "init"], path)
    else:
        (path / "dvc.yaml").write_text(text)
        dvc = str(DVC_VENV / "bin" / "dvc")
        run([dvc, "init", "-q"], path)
        run([dvc, "config", "core.analytics", "false"], path)
        run([dvc, "config", "core.check_update", "false"], path)
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-q", "-m", "bench pipeline"], path)
    return path


def dvc_available(install: bool) -> str | None:
    """DVC's version, installing it into the side venv when asked and missing."""
    dvc = DVC_VENV / "bin" / "dvc"
    probe = (
        subprocess.run([str(dvc), "--version"], env=ENV, capture_output=True, text=True)
        if dvc.exists()
        else None
    )
    if probe is not None and probe.returncode == 0:
        return probe.stdout.strip()
    if not install:
        return None
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(DVC_VENV)], check=True)
    pip = [
        str(DVC_VENV / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    if subprocess.run([*pip, "dvc"]).returncode != 0:
        return None
    probe = subprocess.run([str(dvc), "--version"], env=ENV, capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def dvc_config_dirs() -> None:
    for name in ("dvc-global", "dvc-system"):
        d = WORK / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "config").write_text("[core]\n    analytics = false\n    check_update = false\n")


# -- scenario 1: no-op status and run ------------------------------------------------


def ratio_row(
    figure: str, ours: Times, theirs: Times | None, their_label: str, target: float, report: Report
) -> None:
    if theirs is None:
        report.rows.append(
            Row(
                figure,
                ours.show(),
                f"{their_label}: not measured (--with-dvc)",
                "-",
                f">= {target}x",
                "-",
            )
        )
        return
    ratio = theirs.best / ours.best
    needed = theirs.best / target
    report.rows.append(
        Row(
            figure,
            ours.show(),
            f"{their_label}: {theirs.show()}",
            f"{ratio:.2f}x",
            f">= {target}x (<= {needed:.3f} s)",
            "yes" if ratio >= target else f"no ({ours.best / needed:.1f}x too slow)",
        )
    )


def bench_noop(args: argparse.Namespace, dvc_version: str | None, report: Report) -> Path:
    stages, inputs = noop_pipeline(args.stages, args.files)
    ap = make_repo(WORK / "noop-auditpipe", stages, inputs, "auditpipe")
    run([*AUDITPIPE, "run", "-j", "2"], ap)
    run([*AUDITPIPE, "status"], ap)  # warm page cache and stat cache
    dv = None
    if dvc_version:
        dv = make_repo(WORK / "noop-dvc", stages, inputs, "dvc")
        dvc = str(DVC_VENV / "bin" / "dvc")
        run([dvc, "repro"], dv)
        run([dvc, "status"], dv)
    report.load("before no-op figures")
    ap_status, ap_run, dvc_status, dvc_repro = Times(), Times(), Times(), Times()
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits both tools
        ap_status.samples.append(timed([*AUDITPIPE, "status"], ap, expect="up to date"))
        ap_run.samples.append(timed([*AUDITPIPE, "run"], ap, expect="every stage is up to date"))
        if dv is not None:
            dvc = str(DVC_VENV / "bin" / "dvc")
            dvc_status.samples.append(timed([dvc, "status"], dv, expect="up to date"))
            dvc_repro.samples.append(timed([dvc, "repro"], dv, expect="up to date"))
    shape = f"{args.stages} stages x {args.files} inputs"
    ratio_row(
        f"no-op `auditpipe status`, {shape}",
        ap_status,
        dvc_status if dv else None,
        "dvc status",
        5,
        report,
    )
    ratio_row(
        f"no-op `auditpipe run`, {shape}", ap_run, dvc_repro if dv else None, "dvc repro", 5, report
    )
    return ap


# -- scenario 2: first run, -j 2 -----------------------------------------------------


def shell_loop(stages: list[Stage], cwd: Path) -> float:
    """The stages' commands alone, one after the other, each through ``sh -c`` as the tools do."""
    start = time.perf_counter()
    for st in stages:
        subprocess.run(st.cmd, shell=True, cwd=cwd, check=True, env=ENV)
    return time.perf_counter() - start


def bench_first_run(args: argparse.Namespace, dvc_version: str | None, report: Report) -> None:
    stages, inputs = python_pipeline(args.stages)
    ap_j2, ap_j1, dvc_repro, cmds = Times(), Times(), Times(), Times()
    report.load("before first-run figures")
    for _ in range(args.first_repeat):
        repo = make_repo(WORK / "first-auditpipe", stages, inputs, "auditpipe")
        ap_j2.samples.append(
            timed([*AUDITPIPE, "run", "-j", "2"], repo, expect=f"{args.stages} ran")
        )
        repo = make_repo(WORK / "first-auditpipe", stages, inputs, "auditpipe")
        ap_j1.samples.append(
            timed([*AUDITPIPE, "run", "-j", "1"], repo, expect=f"{args.stages} ran")
        )
        shutil.rmtree(repo / "out")
        (repo / "out").mkdir()
        cmds.samples.append(shell_loop(stages, repo))
        if dvc_version:
            repo = make_repo(WORK / "first-dvc", stages, inputs, "dvc")
            dvc = str(DVC_VENV / "bin" / "dvc")
            dvc_repro.samples.append(timed([dvc, "repro"], repo))
    ratio_row(
        f"first run, {args.stages} short stages, `auditpipe run -j 2`",
        ap_j2,
        dvc_repro if dvc_version else None,
        "dvc repro",
        1.8,
        report,
    )
    report.rows.append(
        Row(
            f"first run, {args.stages} short stages, `auditpipe run -j 1` (info)",
            ap_j1.show(),
            f"the {args.stages} commands in a shell loop: {cmds.show()}",
            f"-j 2 speed-up {ap_j1.best / ap_j2.best:.2f}x",
            "-",
            "-",
        )
    )
    report.notes.append(
        f"First-run stages: `{stages[0].cmd}` (one 1-line input each, independent). "
        f"Per stage: `run -j 1` {ap_j1.best / args.stages * 1000:.0f} ms, commands alone "
        f"{cmds.best / args.stages * 1000:.0f} ms"
        + (f", `dvc repro` {dvc_repro.best / args.stages * 1000:.0f} ms." if dvc_version else ".")
    )


# -- scenario 3: recording overhead --------------------------------------------------


def bench_recording_process(args: argparse.Namespace, report: Report) -> None:
    n = args.record_stages
    stages, inputs = trivial_pipeline(n)
    repo = make_repo(WORK / "record-auditpipe", stages, inputs, "auditpipe")
    run([*AUDITPIPE, "run"], repo)
    report.load("before recording figures")
    forced, noop, cmds = Times(), Times(), Times()
    for _ in range(args.first_repeat):
        forced.samples.append(
            timed([*AUDITPIPE, "run", "--force", "-j", "1"], repo, expect=f"{n} ran")
        )
        noop.samples.append(timed([*AUDITPIPE, "run"], repo, expect="every stage is up to date"))
        cmds.samples.append(shell_loop(stages, repo))
    per_stage = (forced.best - noop.best - cmds.best) / n
    raw = (forced.best - cmds.best) / n
    report.rows.append(
        Row(
            f"recording overhead per stage, whole process ({n} stages, --force -j 1)",
            f"{per_stage * 1000:.1f} ms",
            f"run --force {forced.show()}; no-op run {noop.show()}; commands {cmds.show()}",
            f"{per_stage * 1000 / 50:.2f}x budget",
            "<= 50 ms",
            "yes" if per_stage <= 0.050 else "no",
        )
    )
    report.notes.append(
        f"Whole-process recording overhead = (best `run --force -j 1` - best no-op `run` - best "
        f"shell loop of the same commands) / {n}. Without subtracting the no-op run (start-up, "
        f"spec, planning amortized over the {n} stages) it is {raw * 1000:.1f} ms/stage."
    )


class _Quiet:
    def stage_started(self, stage: str, cmd: str) -> None:
        pass

    def output(self, stage: str, stream: str, line: str) -> None:
        pass

    def working(self, stage: str, what: str | None) -> None:
        pass

    def stage_finished(self, result: Any) -> None:
        pass

    def notice(self, stage: str, text: str) -> None:
        pass


def _executor(repo: Path, stack: Any) -> tuple[Any, Any, Any, Any]:
    from auditpipe.fingerprint import StatCache
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.pipeline.dag import build_dag
    from auditpipe.pipeline.executor import Executor
    from auditpipe.pipeline.planner import Planner
    from auditpipe.pipeline.recording import PipelineRecorder
    from auditpipe.pipeline.spec import load_params, load_pipeline
    from auditpipe.pipeline.trusted import RunTrust
    from auditpipe.signing.factory import signer_for
    from auditpipe.trust.read import open_trust
    from auditpipe.workspace import Workspace

    workspace = Workspace.discover(repo)
    spec = load_pipeline(workspace.root)
    dag = build_dag(spec)
    ledger = stack.enter_context(Ledger(workspace))
    cache = stack.enter_context(StatCache(StatCache.default_path(workspace.git_dir)))
    trust = RunTrust.of(open_trust(workspace, None))
    planner = Planner(spec, ledger, load_params(spec), cache, trust=trust)
    recorder = PipelineRecorder(
        spec, ledger, planner, signer_for(workspace), state_dir=workspace.state_dir
    )
    executor = Executor(
        dag, dict(spec.stages), planner, recorder, _Quiet(), root=workspace.root, jobs=1, force=True
    )
    return executor, planner, recorder, list(dag.order())


def bench_recording_inprocess(args: argparse.Namespace, report: Report) -> None:
    """The real Executor and PipelineRecorder, command and hashing time taken out per stage."""
    import contextlib

    n = args.record_stages
    stages, inputs = trivial_pipeline(n)
    repo = make_repo(WORK / "record-inprocess", stages, inputs, "auditpipe")
    run([*AUDITPIPE, "run"], repo)  # the ledger holds one run per stage, as after a first run
    os.environ["AUDITPIPE_CONFIG_DIR"] = ENV["AUDITPIPE_CONFIG_DIR"]
    os.chdir(repo)  # like the CLI: relative paths are taken from the current directory
    acc: dict[str, float] = defaultdict(float)
    per_stage: list[tuple[float, float, float, float]] = []

    def timing(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[name] += time.perf_counter() - start

        return wrapper

    with contextlib.ExitStack() as stack:
        executor, planner, recorder, order = _executor(repo, stack)
        planner.fingerprints = timing("hash", planner.fingerprints)
        executor._execute = timing("cmd", executor._execute)
        recorder.record = timing("record", recorder.record)
        one = executor._one

        def one_timed(stage: Any) -> Any:
            before = dict(acc)
            start = time.perf_counter()
            result = one(stage)
            wall = time.perf_counter() - start
            d = {k: acc[k] - before.get(k, 0.0) for k in ("hash", "cmd", "record")}
            per_stage.append((wall, d["cmd"], d["hash"], d["record"]))
            return result

        executor._one = one_timed
        start = time.perf_counter()
        results = executor.run(order)
        total = time.perf_counter() - start
    assert sum(r.outcome == "ran" for r in results) == n, results
    overheads = [wall - c - h for wall, c, h, _r in per_stage]
    total_overhead = (total - acc["cmd"] - acc["hash"]) / n
    median_ms, max_ms = statistics.median(overheads) * 1000, max(overheads) * 1000
    # hashing inside record (the outputs) is part of acc["hash"]; take it out of record's own time
    report.rows.append(
        Row(
            f"recording overhead per stage, in-process Executor+PipelineRecorder ({n} stages)",
            f"{total_overhead * 1000:.1f} ms (median stage {median_ms:.1f}, max {max_ms:.1f})",
            f"commands {acc['cmd'] / n * 1000:.1f} ms/stage, "
            f"fingerprints {acc['hash'] / n * 1000:.2f} ms/stage",
            f"{total_overhead * 1000 / 50:.2f}x budget",
            "<= 50 ms",
            "yes" if total_overhead <= 0.050 else "no",
        )
    )
    report.notes.append(
        "In-process recording overhead = (wall time of `Executor.run` - time in `_execute` (the "
        "command) - time in `Planner.fingerprints` (data hashing, deps and outputs)) / stages, "
        "with jobs=1 and force=True on a ledger that already holds one run per stage. The max "
        "is the first stage, which pays one-off costs (installed-package scan, key load)."
    )

    # Where the recording time goes: cProfile around PipelineRecorder.record only.
    profiler = cProfile.Profile()
    with contextlib.ExitStack() as stack:
        executor, planner, recorder, order = _executor(repo, stack)
        record = recorder.record

        def record_profiled(*a: Any, **k: Any) -> Any:
            profiler.enable()
            try:
                return record(*a, **k)
            finally:
                profiler.disable()

        recorder.record = record_profiled
        executor.run(order)
    report.sections.append(
        (
            f"cProfile, top cumulative: `PipelineRecorder.record` ({n} forced stages, in-process)",
            top_cumulative(pstats.Stats(profiler), 22),
        )
    )
    os.chdir(REPO)


# -- scenario 4: start-up floor and profiles -----------------------------------------


def short_path(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", str(REPO) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


IMPORT_MACHINERY = ("builtins.exec>", "builtins.__import__>", "import_module", "_gcd_import")


def top_cumulative(stats: pstats.Stats, limit: int) -> str:
    """The top entries by cumulative time, leaving out the import machinery's own frames
    (the ``<module>`` entries of the imported modules stay, with their cumulative time)."""
    stats.sort_stats("cumulative")
    lines = [f"{'cumtime':>8} {'tottime':>8} {'ncalls':>9}  function"]
    entries = stats.stats  # type: ignore[attr-defined]
    shown = [
        f
        for f in stats.fcn_list  # type: ignore[attr-defined]
        if not f[0].startswith("<frozen") and not any(m in f[2] for m in IMPORT_MACHINERY)
    ]
    for func in shown[:limit]:
        cc, nc, tt, ct, _callers = entries[func]
        filename, line, name = func
        where = f"{short_path(filename)}:{line}({name})" if line else name
        calls = f"{nc}" if nc == cc else f"{nc}/{cc}"
        lines.append(f"{ct:8.3f} {tt:8.3f} {calls:>9}  {where}")
    return "\n".join(lines)


def importtime() -> tuple[float, list[tuple[str, float]], list[tuple[str, float]]]:
    """Total import time, the top-level imports by cumulative time, and self time per package."""
    best: tuple[float, list[tuple[str, float]], list[tuple[str, float]]] | None = None
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", *AUDITPIPE[1:], "--version"],
            env=ENV,
            capture_output=True,
            text=True,
        )
        total, top, per_package = 0.0, [], defaultdict(float)
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
            if not m:
                continue
            self_us, cum_us, indent, name = int(m[1]), int(m[2]), m[3], m[4]
            total += self_us / 1e6
            per_package[name.split(".")[0]] += self_us / 1e6
            if not indent:
                top.append((name, cum_us / 1e6))
        if best is None or total < best[0]:
            top.sort(key=lambda p: -p[1])
            best = (total, top, sorted(per_package.items(), key=lambda p: -p[1]))
    assert best is not None
    return best


STATUS_PHASES = r"""
import functools, json, time
t0 = time.perf_counter()
import auditpipe.cli  # what `python -m auditpipe` imports before dispatching
t1 = time.perf_counter()
from auditpipe.fingerprint import StatCache
from auditpipe.ledger.ledger import Ledger
from auditpipe.pipeline.dag import build_dag
from auditpipe.pipeline.planner import Planner
from auditpipe.pipeline.spec import load_params, load_pipeline
from auditpipe.pipeline.trusted import RunTrust
from auditpipe.trust.read import open_trust
from auditpipe.workspace import Workspace
t2 = time.perf_counter()
ws = Workspace.discover()
spec = load_pipeline(ws.root)
dag = build_dag(spec)
t3 = time.perf_counter()
acc = [0.0]
with Ledger(ws) as ledger, StatCache(StatCache.default_path(ws.git_dir)) as cache:
    trust = RunTrust.of(open_trust(ws, None))
    planner = Planner(spec, ledger, load_params(spec), cache, trust=trust)
    fingerprints = planner.fingerprints
    def timed_fingerprints(*a, **k):
        start = time.perf_counter()
        try:
            return fingerprints(*a, **k)
        finally:
            acc[0] += time.perf_counter() - start
    planner.fingerprints = timed_fingerprints
    verdicts = [planner.assess(spec.stages[n]).up_to_date for n in dag.order()]
    t4 = time.perf_counter()
    assert all(verdicts), verdicts

    # What-ifs, measured here on the same data (warm, best of 5); the code is not changed.
    import yaml
    from auditpipe.fingerprint import fs as fsmod
    def best(fn):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)
    text = spec.path.read_text()
    yaml_py = best(lambda: yaml.compose(text, Loader=yaml.SafeLoader))
    yaml_c = best(lambda: yaml.compose(text, Loader=yaml.CSafeLoader))
    deps = lambda: [fingerprints(s.deps) for s in spec.stages.values()]
    fp_now = best(deps)
    real = fsmod.LocalFileSystem.realpath
    memo = functools.lru_cache(maxsize=None)(real)
    fsmod.LocalFileSystem.realpath = lambda self, path: memo(self, path)
    fp_memo = best(deps)
    fsmod.LocalFileSystem.realpath = real
print(json.dumps({
    "import_cli": t1 - t0, "import_core": t2 - t1, "load_pipeline": t3 - t2,
    "assess": t4 - t3, "assess_fingerprints": acc[0],
    "yaml_py": yaml_py, "yaml_c": yaml_c, "fp_now": fp_now, "fp_memo": fp_memo,
}))
"""


def status_phases(args: argparse.Namespace, repo: Path, bare: Times, report: Report) -> None:
    """Where a no-op ``status`` spends its time, in a fresh process, with perf_counter."""
    samples = [
        json.loads(run([sys.executable, "-c", STATUS_PHASES], repo).strip().splitlines()[-1])
        for _ in range(3)
    ]
    ph = {k: min(s[k] for s in samples) for k in samples[0]}
    ms = {k: v * 1000 for k, v in ph.items()}
    assess_rest = ms["assess"] - ms["assess_fingerprints"]
    total = bare.best * 1000 + ms["import_cli"] + ms["import_core"] + ms["load_pipeline"]
    total += ms["assess"]
    lines = [
        f"{bare.best * 1000:7.1f} ms  interpreter start-up and exit (`python -c pass`)",
        f"{ms['import_cli']:7.1f} ms  import auditpipe.cli (cyclopts, rich, command modules)",
        f"{ms['import_core']:7.1f} ms  import of what status then needs: ledger (pydantic "
        "statement models, sigstore_models bundle, cryptography, dulwich), planner, spec, "
        "fingerprint",
        f"{ms['load_pipeline']:7.1f} ms  load_pipeline + build_dag ({args.stages} stages; "
        f"yaml.compose with the pure-Python SafeLoader is {ms['yaml_py']:.1f} ms of it)",
        f"{ms['assess']:7.1f} ms  Planner.assess x {args.stages}: fingerprints (deps and outs, "
        f"stat cache warm) {ms['assess_fingerprints']:.1f} ms, key + ledger lookups + entry "
        f"parsing {assess_rest:.1f} ms",
        f"{total:7.1f} ms  sum (the whole `auditpipe status` process adds rendering and exit)",
        "",
        "what-ifs measured in the same process (code unchanged):",
        f"  yaml.compose with yaml.CSafeLoader (libyaml, same nodes and line marks): "
        f"{ms['yaml_c']:.1f} ms instead of {ms['yaml_py']:.1f} ms",
        f"  fingerprints of all {args.stages * args.files} deps with os.path.realpath of the "
        f"parent memoized: {ms['fp_memo']:.1f} ms instead of {ms['fp_now']:.1f} ms",
    ]
    report.sections.append(
        (
            "Where a no-op `auditpipe status` spends its time (fresh process, best of 3)",
            "\n".join(lines),
        )
    )


def bench_startup(args: argparse.Namespace, status_repo: Path, report: Report) -> None:
    report.load("before start-up figures")
    version, bare = Times(), Times()
    for _ in range(args.repeat):
        version.samples.append(timed([*AUDITPIPE, "--version"]))
        bare.samples.append(timed([sys.executable, "-c", "pass"]))
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # As the invoking shell runs it: modules without an up-to-date .pyc are compiled each time.
        cold = Times()
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([*AUDITPIPE, "--version"], capture_output=True, check=True)
            cold.samples.append(time.perf_counter() - start)
        report.rows.append(
            Row(
                "start-up, PYTHONDONTWRITEBYTECODE=1 as in this shell (info)",
                cold.show(),
                f"with a warm .pyc cache: {version.show()}",
                f"{(cold.best - version.best) * 1000:+.0f} ms",
                "-",
                "-",
            )
        )
    status_phases(args, status_repo, bare, report)
    total, top, per_package = importtime()
    report.rows.append(
        Row(
            "start-up floor: `python -m auditpipe --version` (info)",
            version.show(),
            f"python -c pass: {bare.show()}",
            f"{version.best / bare.best:.1f}x",
            "-",
            "-",
        )
    )
    report.rows.append(
        Row(
            "`-X importtime` total for `--version` (info)",
            f"{total * 1000:.0f} ms",
            "top: " + ", ".join(f"{n} {t * 1000:.0f}" for n, t in top[:4]),
            "-",
            "-",
            "-",
        )
    )
    report.sections.append(
        (
            "`python -X importtime -m auditpipe --version` (best of 3)",
            f"total (sum of self times): {total * 1000:.0f} ms\n\n"
            "top-level imports by cumulative time:\n"
            + "\n".join(f"  {t * 1000:7.1f} ms  {n}" for n, t in top[:10])
            + "\n\nself time summed per top-level package:\n"
            + "\n".join(f"  {t * 1000:7.1f} ms  {n}" for n, t in per_package[:14]),
        )
    )
    prof = WORK / "status.prof"
    run(
        [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "auditpipe", "status"],
        status_repo,
    )
    report.sections.append(
        (
            f"cProfile, top cumulative: no-op `auditpipe status` ({args.stages}x{args.files} repo)",
            top_cumulative(pstats.Stats(str(prof)), 30),
        )
    )
    prof = WORK / "run.prof"
    run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "auditpipe", "run"], status_repo)
    report.sections.append(
        (
            f"cProfile, top cumulative: no-op `auditpipe run` ({args.stages}x{args.files} repo)",
            top_cumulative(pstats.Stats(str(prof)), 30),
        )
    )


def busy_fraction(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over ``seconds`` (from /proc/stat), 0..1."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_idle(limit: float) -> str:
    """Wait (up to ``limit`` s) until under 10 % of the CPUs are busy; say what was seen."""
    try:
        start = time.monotonic()
        busy = busy_fraction()
        while busy > 0.10 and time.monotonic() - start < limit:
            time.sleep(4)
            busy = busy_fraction()
    except OSError:
        return "unknown (no /proc/stat)"
    waited = time.monotonic() - start
    state = "idle" if busy <= 0.10 else "BUSY: figures are noisy"
    return f"{busy:.0%} of CPUs busy after waiting {waited:.0f} s ({state})"


# -- output --------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    header = ("figure", "measured", "baseline (same run)", "ratio", "target", "met")
    cells = [header, *[(r.figure, r.measured, r.baseline, r.ratio, r.target, r.met) for r in rows]]
    width = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in width) + "|")
    for c in cells[1:]:
        lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(c, width, strict=True)) + " |")
    return "\n".join(lines)


def write_results(path: Path, command: str, context: str, report: Report, text: str) -> None:
    """Write the generated part; keep a hand-written ``## Findings`` section if there is one."""
    findings = ""
    if path.exists():
        old = path.read_text()
        if "\n## Findings" in old:
            findings = old[old.index("\n## Findings") :]
    body = [
        "# Pipeline benchmark results",
        "",
        "Command (from the repository root):",
        "",
        "```sh",
        command,
        "```",
        "",
        context,
        "",
        text,
    ]
    for title, section in report.sections:
        body += ["", f"### {title}", "", "```", section, "```"]
    path.write_text("\n".join(body).rstrip("\n") + "\n" + findings)


def source_state() -> str:
    """HEAD and how many files under auditpipe/ differ from it (others may be editing)."""
    rev = run(["git", "rev-parse", "--short", "HEAD"], REPO).strip()
    changed = run(["git", "status", "--porcelain", "auditpipe"], REPO).strip().splitlines()
    return f"{rev} + {len(changed)} uncommitted paths in auditpipe/" if changed else rev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-dvc", action="store_true", help="install DVC if needed and compare")
    parser.add_argument("--stages", type=int, default=50)
    parser.add_argument(
        "--files", type=int, default=20, help="input files per stage (no-op figures)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of the no-op figures")
    parser.add_argument(
        "--first-repeat", type=int, default=3, help="repetitions of the run figures"
    )
    parser.add_argument("--record-stages", type=int, default=50)
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        help="wait up to this many seconds for an idle machine",
    )
    parser.add_argument("--output", type=Path, default=None, help="write a RESULTS markdown file")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    dvc_config_dirs()
    report = Report()
    idle = wait_idle(args.wait_idle)
    report.load("start")
    dvc_version = dvc_available(args.with_dvc)
    if args.with_dvc and dvc_version is None:
        report.notes.append("DVC could not be installed into bench/_work/dvc-venv; no DVC figures.")
    wanted = dvc_version if args.with_dvc else None
    started = time.perf_counter()
    tree_before = source_state()
    status_repo = bench_noop(args, wanted, report)
    bench_first_run(args, wanted, report)
    bench_recording_process(args, report)
    bench_recording_inprocess(args, report)
    bench_startup(args, status_repo, report)
    report.load("end")

    tree = source_state()
    if tree != tree_before:
        tree = f"{tree_before}, CHANGED during the bench to {tree}"
    context = "\n".join(
        [
            f"- auditpipe {tree}, Python {platform.python_version()}, "
            f"{platform.platform()}, {os.cpu_count()} CPUs",
            f"- DVC: {wanted or 'not measured (run with --with-dvc)'}",
            f"- stage commands run with {os.path.realpath(sys.executable)} -I -S; children get "
            "PYTHONPYCACHEPREFIX=bench/_work/pipeline/pycache (warm .pyc) and no "
            "PYTHONDONTWRITEBYTECODE",
            f"- other CPU use at start: {idle}",
            f"- best of {args.repeat} (no-op, start-up) / {args.first_repeat} (runs) whole "
            f"processes, median in parentheses; bench time {time.perf_counter() - started:.0f} s",
            "- load average (1, 5, 15 min): "
            + "; ".join(f"{w} {a:.2f} {b:.2f} {c:.2f}" for w, (a, b, c) in report.loads),
        ]
    )
    text = table(report.rows) + "\n\n" + "\n".join(f"- {n}" for n in report.notes)
    print(context)
    print()
    print(text)
    for title, section in report.sections:
        print(f"\n### {title}\n\n{section}")
    if args.output:
        command = shlex.join([".venv/bin/python", "bench/pipeline.py", *sys.argv[1:]])
        write_results(args.output, command, context, report, text)


if __name__ == "__main__":
    main()
