"""The two scripted walk-throughs, run end to end so CI keeps them true:
``examples/demo.sh`` (the wine-quality example) and ``examples/walkthrough.sh``
(a fresh repository and a pipeline written from the README alone). Each checks
its own steps and exits non-zero on the first broken promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV

ROOT = Path(__file__).resolve().parents[2]


def run_script(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **GIT_ENV,
        # The auditpipe (and python) of this test run, not a fresh .venv set-up.
        "AUDITPIPE_SKIP_SETUP": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "AUDITPIPE_DEMO_DIR": str(tmp_path / "work"),
        "AUDITPIPE_CONFIG_DIR": str(tmp_path / "config"),
        "HOME": str(tmp_path),
    }
    env.pop("AUDITPIPE_KEY", None)
    env.pop("AUDITPIPE_PASSPHRASE", None)
    return subprocess.run(
        ["bash", str(ROOT / "examples" / name)], env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_demo_script_runs_the_wine_quality_example(tmp_path: Path) -> None:
    proc = run_script("demo.sh", tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "ALLOW models/model.pkl" in proc.stdout
    assert (tmp_path / "work/wine-quality/audit-report.pdf").stat().st_size > 0


@pytest.mark.slow
def test_walkthrough_from_the_readme_alone(tmp_path: Path) -> None:
    proc = run_script("walkthrough.sh", tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "walk-through repository:" in proc.stdout
    assert (tmp_path / "work/first-hour/audit-report.pdf").stat().st_size > 0
