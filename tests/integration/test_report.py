"""`auditpipe report ARTIFACT`: real PDFs from a real pipeline, read back with poppler."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import auditpipe.cli.report_cmds  # noqa: F401  (registers `report`)
from auditpipe.cli import main
from auditpipe.ledger.ledger import Ledger
from auditpipe.signing.factory import local_signer
from tests.conftest import GIT_ENV, Project, Result
from tests.unit.report.synthetic import gate, record_run, write

Cli = Callable[..., Result]

PIPELINE = """\
params: params.yaml
stages:
  prep:
    cmd: python3 steps/prep.py
    deps: [steps/prep.py, in/raw.csv]
    outs: [out/prep.csv]
  features:
    cmd: python3 steps/features.py
    deps: [steps/features.py, out/prep.csv]
    outs: [out/features.csv]
  train:
    cmd: python3 steps/train.py
    deps: [steps/train.py, out/features.csv]
    params: [train]
    outs: [models/model.bin]
  evaluate:
    cmd: python3 steps/evaluate.py
    deps: [steps/evaluate.py, models/model.bin]
    metrics: [metrics/eval.json]
"""

STEPS = {
    "steps/prep.py": "open('out/prep.csv', 'w').write(open('in/raw.csv').read())\n",
    "steps/features.py": "open('out/features.csv', 'w').write("
    "open('out/prep.csv').read() + '7,8.5,w\\n')\n",
    "steps/train.py": "open('models/model.bin', 'w').write(open('out/features.csv').read() * 2)\n",
    "steps/evaluate.py": "import json\n"
    "json.dump({'accuracy': 0.95}, open('metrics/eval.json', 'w'))\n",
}

POLICY = """\
version: 1
name: strict
require:
  stages: [prep, train, evaluate]
rules:
  - gates_passed: {on_missing: allow}  # these stages have no suites
  - trusted_signers
  - not_stale
  - no_dirty_code
  - metric: {stage: evaluate, name: accuracy, min: 0.9}
"""

STAGES = ("prep", "features", "train", "evaluate")


def pdftotext(pdf: Path, *pages: int) -> str:
    first_last = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return subprocess.run(
        ["pdftotext", *first_last, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def flat(text: str) -> str:
    """Text without whitespace: digests and commands that wrapped in a cell read whole."""
    return "".join(text.split())


def build_pipeline(base: Path) -> tuple[Path, Path]:
    """Make a repository under ``base`` whose 4-stage pipeline ran once: (repo, config dir)."""
    root, config = base / "repo", base / "config"
    root.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITPIPE_CONFIG_DIR", str(config))
        for key, value in GIT_ENV.items():
            mp.setenv(key, value)
        mp.chdir(root)
        project = Project(root, config)
        project.git("init", "-q", "-b", "main")
        project.gen(
            {
                "auditpipe.yaml": PIPELINE,
                "params.yaml": "train:\n  k: 2\n",
                "policies/strict.yaml": POLICY,
                "in/raw.csv": "a,b,c\n1,2.5,x\n3,4.5,y\n5,,z\n",
                "out/.keep": "",
                "models/.keep": "",
                "metrics/.keep": "",
                **STEPS,
            }
        )
        project.commit("pipeline")
        assert main(["init"]) == 0
        project.commit("auditpipe init")
        assert main(["run"]) == 0
    return root, config


def copy_pipeline(made: tuple[Path, Path], tmp_path: Path, config: Path) -> Project:
    """A fresh copy of a built repository (and its keys), for one test to change."""
    root = tmp_path / "repo"
    shutil.copytree(made[0], root, symlinks=True)
    shutil.copytree(made[1], config, symlinks=True)
    os.chdir(root)
    return Project(root, config)


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_pipeline(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture
def built(
    pipeline_repo: tuple[Path, Path],
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    """A copy of the pipeline repository, as the current directory."""
    monkeypatch.chdir(tmp_path)  # restored after the test, wherever the copy chdirs
    return copy_pipeline(pipeline_repo, tmp_path, isolated_env)


def run_ids(cli: Cli) -> dict[str, str]:
    return {r["stage"]: r["id"] for r in json.loads(cli("log", "--json").out)}


def test_report_shows_digest_stages_decision_and_recheck_commands(
    built: Project, cli: Cli, tmp_path: Path
) -> None:
    pdf = tmp_path / "report.pdf"
    result = cli("report", "models/model.bin", "-o", str(pdf), "--policy", "policies/strict.yaml")
    assert result.code == 0, result.err
    assert "ALLOW models/model.bin under policy strict" in result.out
    sha = hashlib.sha256((built.root / "models/model.bin").read_bytes()).hexdigest()
    text = pdftotext(pdf)
    assert sha in text
    for stage in STAGES:
        assert f"✓ {stage}" in text
    assert "ALLOW" in pdftotext(pdf, 1)
    for rule in ("gates_passed", "trusted_signers", "not_stale", "metric evaluate.accuracy >= 0.9"):
        assert rule in text
    assert text.count("No validation gate ran in this stage.") == len(STAGES)
    # Source data fingerprint from the CSV's table profile: schema, rows, statistics.
    assert "Table fingerprint" in text and "rows × columns" in text
    assert "2.5" in text and "4.5" in text  # min and max of column b
    # The appendix: every entry with the commands to re-check it, and sha256sum.
    commands = flat(text)
    assert flat("sha256sum models/model.bin") in commands
    for stage, entry_id in run_ids(cli).items():
        assert stage in STAGES
        assert flat(f"auditpipe show {entry_id}") in commands
        path = f"entries/{entry_id[:2]}/{entry_id}.sigstore.json"
        assert flat(f"git show auditpipe/ledger:{path}") in commands
        assert built.git("show", f"auditpipe/ledger:{path}")  # the command works
    info = subprocess.run(["pdfinfo", "-isodates", str(pdf)], capture_output=True, text=True)
    assert "Title:           Audit report: models/model.bin" in info.stdout
    assert f"(sha256 {sha})" in info.stdout
    newest = json.loads(cli("log", "--json").out)[0]["time"][:19] + "Z"
    assert f"CreationDate:    {newest}" in info.stdout
    assert f"ModDate:         {newest}" in info.stdout


def test_a_failing_gate_is_on_the_first_page(built: Project, cli: Cli, tmp_path: Path) -> None:
    features = run_ids(cli)["features"]
    with Ledger.open(built.root) as ledger:
        write(built.root, "models/gated.bin", "weights trained on bad rows\n")
        checks = [
            gate(built.root, "schema_ok", "out/features.csv", success=True),
            gate(
                built.root,
                "no_null_b",
                "out/features.csv",
                success=False,
                failed=[("expect_column_values_to_not_be_null", "b")],
            ),
        ]
        record_run(
            ledger,
            local_signer(),
            "train",
            {"out/features.csv": features, "steps/train.py": None},
            ["models/gated.bin"],
            validations=checks,
        )
    pdf = tmp_path / "gated.pdf"
    result = cli("report", "models/gated.bin", "-o", str(pdf), "--policy", "policies/strict.yaml")
    assert result.code == 0, result.err
    assert "DENY models/gated.bin" in result.out
    first = pdftotext(pdf, 1)
    assert "DENY" in first
    assert "gate 'no_null_b' on out/features.csv failed (expect_column_values_to_not_be_null)" in (
        " ".join(first.split())
    )
    text = pdftotext(pdf)
    assert "✓ passed" in text and "schema_ok" in text  # every gate's result
    assert "✗ FAILED" in text and "no_null_b" in text
    assert "expect_column_values_to_not_be_null" in flat(text.split("failed expectations")[1])


def test_same_ledger_and_template_give_identical_bytes(
    built: Project, cli: Cli, tmp_path: Path
) -> None:
    one, two, three = (tmp_path / f"{n}.pdf" for n in ("one", "two", "three"))
    assert cli("report", "models/model.bin", "-o", str(one)).code == 0
    assert cli("report", "models/model.bin", "-o", str(two)).code == 0
    # A fresh process: another hash seed, another font cache state.
    code = "import sys, auditpipe.cli.report_cmds; from auditpipe.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", code, "report", "models/model.bin", "-o", str(three)],
        cwd=built.root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert proc.returncode == 0, proc.stderr
    assert one.read_bytes() == two.read_bytes() == three.read_bytes()


def test_source_date_epoch_sets_the_report_time(
    built: Project, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    pdf = tmp_path / "r.pdf"
    assert cli("report", "models/model.bin", "-o", str(pdf)).code == 0
    first = " ".join(pdftotext(pdf, 1).split())
    assert "2023-11-14T22:13:20Z (the time of $SOURCE_DATE_EPOCH, not of the clock)" in first
    info = subprocess.run(["pdfinfo", "-isodates", str(pdf)], capture_output=True, text=True)
    assert "CreationDate:    2023-11-14T22:13:20Z" in info.stdout
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    result = cli("report", "models/model.bin", "-o", str(pdf))
    assert result.code == 2 and "SOURCE_DATE_EPOCH" in result.err


def test_html_copy_is_self_contained(built: Project, cli: Cli, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = cli("report", "models/model.bin", "-o", str(tmp_path / "r.pdf"), "--html", str(html))
    assert result.code == 0, result.err
    page = html.read_text()
    assert page.count('<rect class="node-box"') == 1 + 4 + 4  # artifact, runs, sources
    assert "<link" not in page and "<script" not in page and "src=" not in page


def test_custom_template_brands_the_report(built: Project, cli: Cli, tmp_path: Path) -> None:
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "report.html.j2").write_text(
        '{% extends "auditpipe/report.html.j2" %}\n'
        "{% block brand %}<p>ACME Bank model risk office</p>{% endblock %}\n"
    )
    (brand / "report.css").write_text("html { font-family: 'DejaVu Serif', serif; }\n")
    pdf = tmp_path / "r.pdf"
    assert cli("report", "models/model.bin", "-o", str(pdf), "--template", str(brand)).code == 0
    first = pdftotext(pdf, 1)
    assert "ACME Bank model risk office" in first and "VERIFIED" in first
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "DejaVu-Serif" in fonts  # the company's stylesheet replaced auditpipe's


@pytest.mark.parametrize(
    ("setup", "args", "phrase"),
    [
        (None, ["nope.bin"], "artifact not found: nope.bin"),
        (None, ["models/model.bin", "--ledger"], "give an artifact or --ledger"),
        (None, ["models/model.bin", "--since", "2026-01-01"], "--since and --until"),
        (None, ["models/model.bin", "--template", "no/such/dir"], "template directory not found"),
        (
            {"brand/readme.txt": "x"},
            ["models/model.bin", "--template", "brand"],
            "no report.html.j2",
        ),
        (
            {"brand/report.html.j2": '{% extends "_base.html.j2" %}\n{% block body %}\n{{ x\n'},
            ["models/model.bin", "--template", "brand"],
            "brand/report.html.j2:3: template syntax error",
        ),
        (
            {"brand/report.html.j2": "<p>\n{{ report.no_such_field }}</p>\n"},
            ["models/model.bin", "--template", "brand"],
            "brand/report.html.j2:2: template error",
        ),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    built: Project,
    cli: Cli,
    tmp_path: Path,
    setup: dict[str, str] | None,
    args: list[str],
    phrase: str,
) -> None:
    built.gen(setup or {})
    pdf = tmp_path / "r.pdf"
    result = cli("report", *args, "-o", str(pdf))
    assert result.code == 2, result.out
    assert phrase in " ".join(result.err.split())
    assert "Traceback" not in result.err
    assert not pdf.exists()
