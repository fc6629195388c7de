"""`auditpipe report --ledger`: a period's runs and promotions, for periodic review."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import auditpipe.cli.report_cmds  # noqa: F401  (registers `report`)
from auditpipe.ledger.ledger import Ledger
from auditpipe.signing.factory import local_signer
from tests.conftest import Project, Result
from tests.integration.test_report import build_pipeline, copy_pipeline, pdftotext, run_ids
from tests.unit.report.synthetic import record_run

Cli = Callable[..., Result]


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
    monkeypatch.chdir(tmp_path)
    return copy_pipeline(pipeline_repo, tmp_path, isolated_env)


def test_activity_report_groups_runs_and_puts_failures_first(
    built: Project, cli: Cli, tmp_path: Path
) -> None:
    promoted = cli(
        "promote", "models/model.bin", "--to", "production", "--policy", "policies/strict.yaml"
    )
    assert promoted.code == 0, promoted.err
    promotion = promoted.out.split()[-1]
    features = run_ids(cli)["features"]
    assert cli("keys", "generate", "--name", "stranger").code == 0
    with Ledger.open(built.root) as ledger:
        failed = record_run(
            ledger, local_signer(), "train", {"out/features.csv": features}, [], status="failed"
        )
        stranger = record_run(ledger, local_signer("stranger"), "evaluate", {}, [])
    pdf = tmp_path / "activity.pdf"
    result = cli("report", "--ledger", "-o", str(pdf))
    assert result.code == 0, result.err
    assert "7 entries" in result.out and "2 failure(s)" in result.out
    first = " ".join(pdftotext(pdf, 1).split())
    assert "FINDINGS" in first
    assert f"train run {failed[:12]}" in first and "run failed" in first
    assert f"evaluate run {stranger[:12]}" in first and "which is not trusted" in first
    text = pdftotext(pdf)
    for stage, runs in (("prep", 1), ("features", 1), ("train", 2), ("evaluate", 2)):
        assert f"{stage}: {runs} run(s)" in text
    assert promotion in "".join(text.split())
    assert "production" in text
    trusted = local_signer().identity.keyid
    assert trusted and trusted in "".join(text.split())  # who signed, in full
    # An unknown signer does not break the ledger (any writer could otherwise make every
    # report fail); its run is a finding above, never evidence.
    assert "The whole branch verifies" in text


def test_a_period_selects_entries_by_their_recorded_time(
    built: Project, cli: Cli, tmp_path: Path
) -> None:
    pdf = tmp_path / "activity.pdf"
    result = cli("report", "--ledger", "--since", "2999-01-01", "-o", str(pdf))
    assert result.code == 0, result.err
    assert "0 entries" in result.out
    text = pdftotext(pdf)
    assert "No stage run was recorded in this period." in text
    assert "NO FINDINGS" in text
    assert "auditpipe report --ledger --since 2999-01-01 -o activity.pdf" in text
    result = cli("report", "--ledger", "--until", "2999-12-31", "-o", str(pdf))
    assert "4 entries" in result.out


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--since", "last tuesday"], "--since 'last tuesday' is not a date"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "is before --since"),
        (["--template", "."], "has no activity.html.j2"),
    ],
)
def test_bad_period_or_template_exits_2(
    built: Project, cli: Cli, tmp_path: Path, args: list[str], phrase: str
) -> None:
    result = cli("report", "--ledger", *args, "-o", str(tmp_path / "a.pdf"))
    assert result.code == 2
    assert phrase in result.err
