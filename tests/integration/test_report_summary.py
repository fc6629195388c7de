"""The report a reviewer signs: page 1 read back from the PDF with poppler.

Runs on the three-person repository of ``test_approvals``: the card's name,
risk tier, verdict and approvers on page 1; the change from the model in
production; a DENY report (exit 1) for a tampered model; and no hash,
timestamp or status cell wrapping onto a second line.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result
from tests.integration.test_approvals import POLICY, entry_of, team  # noqa: F401  (fixture)
from tests.integration.test_policy_gate import params

Cli = Callable[..., Result]
REVIEW = POLICY + "  - metric: {stage: evaluate, name: accuracy, min: 0.9}\n"


def pdftotext(pdf: Path, *pages: int) -> str:
    first_last = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return subprocess.run(
        ["pdftotext", *first_last, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def approved(team: Project, cli: Cli) -> Project:  # noqa: F811
    team.gen({"policies/review.yaml": REVIEW})
    team.commit("review policy")
    for key, role, extra in (
        ("bob", "validator", ["--ticket", "MRM-7", "--comment", "re-ran the tests"]),
        ("carol", "approver", ["--comment", "fit for pricing"]),
    ):
        result = cli(
            "approve", "models/model.bin", "--role", role, "--key", key,
            "--policy", "policies/review.yaml", *extra,
        )  # fmt: skip
        entry_of(result)
    return team


def report(cli: Cli, pdf: Path) -> Result:
    return cli("report", "models/model.bin", "-o", str(pdf), "--policy", "policies/review.yaml")


def test_page_one_names_the_model_verdict_and_approvers(
    approved: Project, cli: Cli, tmp_path: Path
) -> None:
    promoted = cli(
        "promote", "models/model.bin", "--to", "production", "--policy", "policies/review.yaml"
    )
    assert promoted.code == 0, promoted.out
    pdf = tmp_path / "r.pdf"
    result = report(cli, pdf)
    assert result.code == 0, result.err
    first = one_line(pdftotext(pdf, 1))
    assert "wine-quality" in first and "ALLOW" in first
    assert "Risk tier high" in first and "Owner Alice Ng" in first
    assert "Intended use tests" in first
    assert "Bob Roy <bob@example.com> validator" in first and "MRM-7" in first
    assert "Carol Diaz <carol@example.com> approver" in first and "fit for pricing" in first
    assert "This artifact is the one in production" in first
    assert "evaluate.accuracy 0.95 >= 0.9" in first
    # Runs name the person who signed them; keyids are in the appendix.
    whole = one_line(pdftotext(pdf))
    assert "Alice Ng <author@example.com>" in whole


def test_a_new_model_shows_the_change_from_production_and_empty_signature_lines(
    approved: Project, cli: Cli, tmp_path: Path
) -> None:
    assert (
        cli(
            "promote", "models/model.bin", "--to", "production", "--policy", "policies/review.yaml"
        ).code
        == 0
    )
    approved.gen({"params.yaml": params(k=3, acc=0.97)})
    approved.commit("retrain")
    assert cli("run").code == 0
    pdf = tmp_path / "r.pdf"
    result = report(cli, pdf)
    assert result.code == 0, result.err
    first = one_line(pdftotext(pdf, 1))
    assert "DENY" in first and "does not allow this model to ship" in first
    assert "missing approval by validator, approver" in first
    assert "In production: sha256" in first
    assert "evaluate.accuracy 0.95 0.97 +0.02" in first
    assert "validator name signature date" in first
    assert "approver name signature date" in first


def test_a_tampered_model_gets_a_deny_report_and_exit_1(
    approved: Project, cli: Cli, tmp_path: Path
) -> None:
    (approved.root / "models/model.bin").write_text("tampered weights")
    pdf = tmp_path / "r.pdf"
    result = report(cli, pdf)
    assert result.code == 1, result.out + result.err
    assert pdf.exists()
    first = one_line(pdftotext(pdf, 1))
    assert "DENY" in first and "wine-quality" in first
    assert "No signed run on the ledger produced these bytes" in first
    assert "it may have been tampered with" in first
    # Without a policy too: still written, still DENY, still exit 1.
    bare = cli("report", "models/model.bin", "-o", str(tmp_path / "bare.pdf"))
    assert bare.code == 1
    assert "DENY" in pdftotext(tmp_path / "bare.pdf", 1)


WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def words(pdf: Path) -> list[tuple[int, float, float, str]]:
    """(page, x, y, text) of every word, from ``pdftotext -bbox``."""
    xml = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for page, body in enumerate(xml.split("<page ")[1:], 1):
        for match in WORD.finditer(body):
            found.append((page, float(match[1]), float(match[2]), match[5]))
    return found


def test_hashes_timestamps_and_status_cells_never_wrap(
    approved: Project, cli: Cli, tmp_path: Path
) -> None:
    pdf = tmp_path / "r.pdf"
    assert report(cli, pdf).code == 0
    # The pages render (pdftoppm), and their text keeps each value on one line.
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    assert sorted(tmp_path.glob("page*.png"))
    found = words(pdf)
    texts = [w[3] for w in found]
    ids = [e["id"] for e in json.loads(cli("log", "--json").out)]
    hexes = [t for t in texts if re.fullmatch(r"[0-9a-f]{6,64}", t)]
    for entry_id in ids:
        fragments = [h for h in hexes if entry_id.startswith(h) and len(h) not in (12, 64)]
        assert not fragments, f"{entry_id} wrapped into {fragments}"
        assert entry_id[:12] in texts or entry_id in texts
    # Timestamps are whole words (a wrapped one splits at '-', ':' or 'T').
    stamps = [t for t in texts if re.match(r"^\d{4}-\d\d-\d\d", t)]
    assert stamps
    for stamp in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?Z)?", stamp), stamp
    # Status cells: the mark and its word sit on one line.
    lines: dict[tuple[int, float], list[str]] = defaultdict(list)
    for page, _x, y, text in found:
        lines[(page, round(y))].append(text)
    marks = 0
    for line in lines.values():
        for i, text in enumerate(line):
            if text in ("✓", "✗") and i + 1 < len(line):
                marks += 1
    for status in ("pass", "FAIL", "meets", "yes"):
        for page, _x, y, text in found:
            if text == status:
                same = lines[(page, round(y))]
                index = same.index(status)
                assert index > 0 and same[index - 1] in ("✓", "✗"), (status, same)
    assert marks > 5


def test_activity_report_has_dates_people_and_failed_expectations(
    team: Project,  # noqa: F811
    cli: Cli,
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from auditpipe.ledger.ledger import Ledger
    from auditpipe.signing.factory import local_signer
    from tests.unit.report.synthetic import gate, record_run

    with Ledger.open(team.root) as ledger:
        failed = gate(
            team.root, "train_suite", "in/raw.txt", success=False,
            failed=[("expect_column_values_to_not_be_null", "b")],
        )  # fmt: skip
        record_run(ledger, local_signer(), "prep", {"in/raw.txt": None}, [], validations=[failed])
    pdf = tmp_path / "activity.pdf"
    assert cli("report", "--ledger", "-o", str(pdf)).code == 0
    first = one_line(pdftotext(pdf, 1))
    today = datetime.now(UTC).date().isoformat()
    assert f"Ledger activity, {today}" in first
    assert "the first entry" not in first and "the newest entry" not in first
    assert (
        "gate train_suite on in/raw.txt: expect_column_values_to_not_be_null (b) observed "
        '{"unexpected": 2} failed' in first
    )
    whole = one_line(pdftotext(pdf))
    assert "Alice Ng <author@example.com>" in whole
    since = cli(
        "report", "--ledger", "--since", "2026-01-01", "--until", "2026-01-31", "-o", str(pdf)
    )
    assert since.code == 0
    assert "Ledger activity, 2026-01-01 to 2026-01-31" in one_line(pdftotext(pdf, 1))
