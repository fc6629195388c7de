"""Report figures: wall time of a whole `auditpipe report` process, small and large lineages.

    python bench/report.py [--repeat 3] [--workdir DIR] [--write bench/RESULTS_report.md]

Builds throw-away repositories whose ledgers hold a 4-stage pipeline (the size
of examples/wine-quality: CSV sources with table profiles, a gate, a consumer
run with metrics) and a 30-stage lineage, signed through the real Python API;
then times fresh `report` processes (interpreter start, imports, lineage walk
and verification, layout, WeasyPrint, PDF written) and prints a table of
measured / target / ratio. Each timing is the best of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the synthetic lineages of the test-suite

from auditpipe.ledger.ledger import Ledger  # noqa: E402
from auditpipe.signing.factory import local_signer  # noqa: E402
from tests.unit.report.synthetic import dag, gate, record_run, write  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
# Whether or not auditpipe/cli/__init__.py imports report_cmds yet, this registers it.
REPORT = "import sys, auditpipe.cli.report_cmds; from auditpipe.cli import main; sys.exit(main())"
BASELINE = "import sys, weasyprint; weasyprint.HTML(string='<p>x</p>').write_pdf(sys.argv[1])"


def repository(path: Path, env: dict[str, str]) -> None:
    path.mkdir(parents=True)
    (path / "README.md").write_text("bench\n")
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"]):
        subprocess.run(cmd, cwd=path, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=path, check=True, env=env)
    subprocess.run(
        [sys.executable, "-c", REPORT, "init"], cwd=path, check=True, env=env, capture_output=True
    )


def example_pipeline(ledger: Ledger) -> str:
    """prepare -> featurize -> train -> evaluate, as the wine-quality example records it."""
    root, signer = ledger.workspace.root, local_signer()
    header = "id,acidity,sugar,quality\n"
    lines = [f"{i},{7 + i % 5 * 0.1:.1f},{0.3 + i % 7 * 0.01:.2f},{i % 3}\n" for i in range(200)]
    raw = write(root, "data/raw/wine.csv", header + "".join(lines))
    code = {write(root, f"src/{s}.py", f"# {s}\n"): None for s in ("prepare", "featurize", "train")}
    train = write(root, "data/prepared/train.csv", header + "".join(lines[:150]))
    test = write(root, "data/prepared/test.csv", header + "".join(lines[150:]))
    checks = [gate(root, "train_suite", train, success=True)]
    prepare = record_run(
        ledger, signer, "prepare", {raw: None, "src/prepare.py": None}, [train, test],
        validations=checks, params={"prepare": {"test_size": 0.25, "seed": 42}},
    )  # fmt: skip
    features = write(root, "data/features/train.csv", "id,f1,f2\n1,0.1,0.2\n")
    featurize = record_run(
        ledger, signer, "featurize", {train: prepare, "src/featurize.py": None}, [features]
    )
    model = write(root, "models/model.pkl", "weights\n" * 100)
    trained = record_run(
        ledger, signer, "train", {features: featurize, "src/train.py": None}, [model],
        params={"train": {"n_estimators": 100, "max_depth": 8}},
    )  # fmt: skip
    metrics = write(root, "metrics/eval.json", '{"accuracy": 0.93}\n')
    record_run(
        ledger, signer, "evaluate", {model: trained, test: prepare, **code}, [metrics],
        metrics={"accuracy": 0.93, "f1": 0.91},
    )  # fmt: skip
    return model


def reviewed(repo: Path) -> None:
    """A model card, people and a policy with metric and approvals rules (page 1's inputs)."""
    keyid = next((repo / "policies" / "keys").glob("*.pem")).stem
    write(repo, "auditpipe.yaml", (
        "stages: {}\nartifacts:\n  wine-quality:\n    path: models/model.pkl\n    type: model\n"
        "    meta: {owner: Risk Analytics, risk_tier: high, intended_use: pricing,"
        " version: 1.0.0}\n"
    ))  # fmt: skip
    write(repo, "policies/people.yaml", (
        "people:\n  - {name: Bench, email: bench@example.com, roles: [validator], "
        f"keys: [{keyid}]}}\n"
    ))  # fmt: skip
    write(repo, "policies/review.yaml", (
        "version: 1\nname: review\nrules:\n  - trusted_signers\n  - gates_passed\n"
        "  - metric: {stage: evaluate, name: accuracy, min: 0.9}\n"
        "  - cel: {name: f1 high, expr: 'stages.evaluate.metrics.f1 >= 0.95'}\n"
        "  - approvals: {validator: 1, approver: 1}\n"
    ))  # fmt: skip


def best_of(repeat: int, cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--write", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    write_to = args.write.resolve() if args.write else None  # before the chdir below
    work = args.workdir or Path(tempfile.mkdtemp(prefix="auditpipe-bench-report-"))
    shutil.rmtree(work, ignore_errors=True)
    env = {**os.environ, **GIT_ENV, "AUDITPIPE_CONFIG_DIR": str(work / "config")}
    os.environ.update(env)
    work.mkdir(parents=True)
    rows = []
    # Baseline, same run and load: a fresh process that only renders a one-line PDF.
    baseline = best_of(
        args.repeat, [sys.executable, "-c", BASELINE, str(work / "b.pdf")], ROOT, env
    )
    for name, stages, target in (("example-sized pipeline (4 stages)", 4, 3.0),
                                 ("30-stage lineage", 30, 15.0)):  # fmt: skip
        repo = work / f"s{stages}"
        repository(repo, env)
        os.chdir(repo)
        with Ledger.open(repo) as ledger:
            artifact = example_pipeline(ledger) if stages == 4 else dag(ledger, local_signer())[0]
        pdf = work / f"s{stages}.pdf"
        cmd = [sys.executable, "-c", REPORT, "report", artifact, "-o", str(pdf)]
        seconds = best_of(args.repeat, cmd, repo, env)
        pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        count = next(line.split()[-1] for line in pages.splitlines() if line.startswith("Pages"))
        rows.append((f"`auditpipe report` process, {name}, {count} pages", seconds, target))
        if stages == 4:  # the reviewer's report: model card, policy, approvals on page 1
            reviewed(repo)
            cmd += ["--policy", "policies/review.yaml"]
            seconds = best_of(args.repeat, cmd, repo, env)
            rows.append(
                (f"`auditpipe report --policy` process, {name}, card + approvals", seconds, 3.0)
            )
        if stages == 30:
            cmd = [sys.executable, "-c", REPORT, "report", "--ledger", "-o", str(work / "a.pdf")]
            seconds = best_of(args.repeat, cmd, repo, env)
            rows.append(
                (f"`auditpipe report --ledger` process, {stages + 1} entries", seconds, 5.0)
            )
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()[0]
    import weasyprint

    lines = [
        "# Report benchmark results",
        "",
        f"Produced by `python bench/report.py --repeat {args.repeat}"
        f"{' --write ' + str(args.write) if args.write else ''}` on {started} UTC "
        f"({os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}, "
        f"WeasyPrint {weasyprint.__version__}). Each figure is the wall time of a fresh "
        f"process (best of {args.repeat}): interpreter start, imports, lineage walk with "
        "signature checks, graph layout, HTML, PDF layout and writing. "
        f"Load average when done: {load:.2f}.",
        "",
        f"Baseline: a fresh process that imports WeasyPrint and writes a one-line PDF, "
        f"{baseline:.2f} s in this run.",
        "",
        "| scenario | measured | x baseline | target | ratio (target / measured) | met |",
        "|---|---|---|---|---|---|",
    ]
    for label, seconds, target in rows:
        met = "yes" if seconds <= target else "**no**"
        lines.append(
            f"| {label} | {seconds:.2f} s | {seconds / baseline:.2f} | <= {target:g} s "
            f"| {target / seconds:.2f} | {met} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if write_to:
        write_to.write_text(text)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
