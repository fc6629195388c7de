"""`auditpipe report` lays the document out once, with one font configuration:
the page count it prints comes from the same layout as the PDF it writes."""

from __future__ import annotations

import collections
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.integration.test_report import built, pipeline_repo  # noqa: F401  (fixtures)

Cli = Callable[..., Result]


def spy(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, calls: collections.Counter[str]
) -> None:
    real = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:  # calls through: WeasyPrint does the work
        calls[f"{owner.__name__}.{name}"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


@pytest.mark.parametrize("args", [("models/model.bin",), ("--ledger",)])
def test_a_report_is_rendered_once_with_one_font_configuration(
    built: Project,  # noqa: F811
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
) -> None:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    calls: collections.Counter[str] = collections.Counter()
    spy(monkeypatch, weasyprint.HTML, "render", calls)
    spy(monkeypatch, weasyprint.HTML, "write_pdf", calls)
    spy(monkeypatch, weasyprint.document.Document, "write_pdf", calls)
    spy(monkeypatch, FontConfiguration, "__init__", calls)
    pdf = tmp_path / "r.pdf"
    result = cli("report", *args, "-o", str(pdf))
    assert result.code == 0, result.err
    assert calls == {
        "HTML.render": 1,
        "Document.write_pdf": 1,
        "FontConfiguration.__init__": 1,
    }
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages"))
    assert f"({pages} pages)" in result.out
