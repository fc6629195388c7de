"""Page 1's data drift: PSI and category shift against the model in production, when
both runs recorded profiles ($AUDITPIPE_PROFILE_MAX_BYTES), else "no histogram recorded"."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result

Cli = Callable[..., Result]

PIPELINE = """\
stages:
  prep:
    cmd: python3 -c "import shutil; shutil.copy('data/raw.csv', 'out/train.csv')"
    deps: [data/raw.csv]
    outs: [out/train.csv]
  train:
    cmd: python3 -c "open('models/m.bin', 'w').write(open('out/train.csv').read()[::-1])"
    deps: [out/train.csv]
    outs: [models/m.bin]
artifacts:
  churn:
    path: models/m.bin
    meta: {owner: Ops, risk_tier: low}
"""
POLICY = "version: 1\nname: p\nrules:\n  - trusted_signers\n"


def data(shift: float, red: int) -> str:
    rows = [f"{i + shift},{'red' if i < red else 'white'}\n" for i in range(100)]
    return "x,color\n" + "".join(rows)


def first_page(pdf: Path) -> str:
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True
    ).stdout
    return " ".join(text.split())


@pytest.mark.parametrize("profiled", [True, False])
def test_drift_against_production(
    project: Project, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profiled: bool
) -> None:
    if profiled:
        monkeypatch.setenv("AUDITPIPE_PROFILE_MAX_BYTES", "1000000")
    project.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "policies/p.yaml": POLICY,
            "data/raw.csv": data(0, 50),
            "out/.keep": "",
            "models/.keep": "",
        }
    )
    project.commit("pipeline")
    assert cli("run").code == 0
    promote = ("promote", "models/m.bin", "--to", "production", "--policy", "policies/p.yaml")
    assert cli(*promote).code == 0
    project.gen({"data/raw.csv": data(60, 90)})
    project.commit("new data")
    assert cli("run").code == 0
    pdf = tmp_path / "r.pdf"
    assert cli("report", "models/m.bin", "-o", str(pdf), "--policy", "policies/p.yaml").code == 0
    page = first_page(pdf)
    assert "churn" in page and "In production: sha256" in page
    if profiled:
        assert "out/train.csv x PSI" in page and "major shift" in page
        assert "out/train.csv color category shift 0.400" in page
    else:
        assert "out/train.csv no histogram recorded" in page
