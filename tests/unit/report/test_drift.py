"""Drift between two recorded table profiles: PSI over deciles, category shift, or why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint.profile import PROFILE_ENV, profile_limit, profile_table
from auditpipe.report.drift import NO_HISTOGRAM, _column, quantile_psi


def csv(path: Path, values: list[float], colors: list[str]) -> Path:
    path.write_text(
        "x,color\n" + "".join(f"{v},{c}\n" for v, c in zip(values, colors, strict=True))
    )
    return path


def test_profile_holds_deciles_and_top_values(tmp_path: Path) -> None:
    data = csv(tmp_path / "a.csv", [float(i) for i in range(101)], ["red"] * 60 + ["white"] * 41)
    profile = profile_table(data, "csv")
    assert profile["x"]["quantiles"] == [float(i) for i in range(0, 101, 10)]
    assert profile["color"] == {"rows": 101, "top": [["red", 60], ["white", 41]]}


def test_psi_is_zero_for_the_same_data_and_large_for_a_shift(tmp_path: Path) -> None:
    same = [float(i) for i in range(0, 101, 10)]
    assert quantile_psi(same, same) == pytest.approx(0.0, abs=1e-9)
    shifted = [v + 50 for v in same]
    assert quantile_psi(same, shifted) > 0.25
    view = _column("t.csv", "x", {"quantiles": same}, {"quantiles": shifted})
    assert view.measure == "PSI" and view.note == "major shift"


def test_category_shift_and_no_histogram() -> None:
    before = {"rows": 100, "top": [["red", 50], ["white", 50]]}
    after = {"rows": 100, "top": [["red", 80], ["white", 20]]}
    view = _column("t.csv", "color", before, after)
    assert (view.measure, view.value) == ("category shift", "0.300")
    assert _column("t.csv", "x", {"quantiles": [1.0]}, {}).note == NO_HISTOGRAM


def test_profiles_are_opt_in_by_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    assert profile_limit() == 0
    monkeypatch.setenv(PROFILE_ENV, "1000")
    assert profile_limit() == 1000
    monkeypatch.setenv(PROFILE_ENV, "lots")
    with pytest.raises(FingerprintError, match="must be a number of bytes"):
        profile_limit()
