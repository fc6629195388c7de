"""Packaging (issue 16, item 10): ``pip install -e .`` must not warn that
``project.license`` is a deprecated TOML table; the SPDX string form needs a
setuptools that understands it (77, PEP 639) in ``build-system.requires``."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def test_license_is_an_spdx_string_and_the_build_requires_a_setuptools_that_reads_it() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    license_ = pyproject["project"]["license"]
    assert isinstance(license_, str), "a TOML table is deprecated: write license = 'Apache-2.0'"
    assert canonicalize_license_expression(license_) == license_
    setuptools = next(
        Requirement(r) for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")
    )
    assert not setuptools.specifier.contains(Version("76.9")), setuptools
    assert setuptools.specifier.contains(Version("77.0"))


@pytest.mark.slow
def test_the_wheel_builds_without_warnings_and_declares_its_license(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "deprecat" not in (proc.stdout + proc.stderr).lower()
    (wheel,) = tmp_path.glob("auditpipe-*.whl")
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        assert "License-Expression: Apache-2.0" in archive.read(name).decode()
