"""Templates: where they are looked up, and every way one can be wrong (exit 2, file:line)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from auditpipe.errors import ConfigError
from auditpipe.report import render


def fake(**fields: Any) -> SimpleNamespace:
    stamp = SimpleNamespace(
        time="2026-01-02T03:04:05Z",
        source="the newest ledger entry",
        by="alice@host",
        tool="auditpipe test",
        ledger_head="ab" * 20,
        ci_run_url=None,
    )
    values: dict[str, Any] = {
        "template": "report.html.j2",
        "title": "Audit report: m.pkl",
        "subject": "s",
        "verdict": "VERIFIED",
        "stamp": stamp,
    }
    return SimpleNamespace(**{**values, **fields})


def brand(tmp_path: Path, text: str, name: str = "report.html.j2") -> Path:
    directory = tmp_path / "brand"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text)
    return directory


def test_built_in_templates_missing_from_the_installation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "TEMPLATES", tmp_path / "gone")
    with pytest.raises(ConfigError, match="missing from this installation") as caught:
        render.template_dirs(None, "report.html.j2")
    assert "reinstall auditpipe" in caught.value.diagnostics()


def test_custom_directory_must_exist_and_hold_the_main_template(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="template directory not found"):
        render.template_dirs(tmp_path / "nope", "report.html.j2")
    directory = brand(tmp_path, "x", name="report.css")
    with pytest.raises(ConfigError, match=r"has no activity\.html\.j2") as caught:
        render.template_dirs(directory, "activity.html.j2")
    assert caught.value.path == str(directory)
    assert render.template_dirs(directory, "report.css") == [directory.resolve(), render.TEMPLATES]


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        ("<p>\n{% if report.verdict %}\n<b>unclosed\n", 3, "Unexpected end of template"),
        ("<p>\n{{ report.verdict | no_such_filter }}\n", 2, "No filter named 'no_such_filter'"),
        ("<p>\n\n{{ report.no_such_field }}</p>\n", 3, "has no attribute 'no_such_field'"),
        ('<p>\n{% include "nope.html.j2" %}\n', 2, "template 'nope.html.j2' not found"),
    ],
)
def test_a_broken_template_names_its_file_and_line(
    tmp_path: Path, text: str, line: int, phrase: str
) -> None:
    directory = brand(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        render.render_html(fake(), render.template_dirs(directory, "report.html.j2"))
    error = caught.value
    assert phrase in error.message
    assert error.path is not None and error.path.endswith("brand/report.html.j2")
    assert error.line == line


def test_partials_fall_back_and_values_are_escaped(tmp_path: Path) -> None:
    directory = brand(
        tmp_path,
        '{% import "_macros.html.j2" as m %}{{ m.mark(false) }} {{ report.verdict }}'
        '{% include "auditpipe/report.css" %}',
    )
    html = render.render_html(
        fake(verdict="<script>alert(1)</script>"), render.template_dirs(directory, "report.html.j2")
    )
    assert '<span class="fail">✗</span>' in html  # auditpipe's macros
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "@page" in html  # auditpipe's stylesheet, by its explicit name


def test_pdf_fetches_only_template_files(tmp_path: Path) -> None:
    directory = brand(tmp_path, "unused")
    (directory / "logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<rect width="10" height="10" fill="#c00"/></svg>'
    )
    secret = tmp_path / "secret.svg"
    secret.write_text((directory / "logo.svg").read_text())
    html = (
        '<html><head><title>t</title></head><body><img src="logo.svg">'
        f'<img src="{secret.as_uri()}"><img src="http://127.0.0.1:9/x.png"></body></html>'
    )
    pdf = tmp_path / "out.pdf"
    result = render.write_pdf(html, pdf, render.template_dirs(directory, "report.html.j2"))
    assert result.pages == 1
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert len(result.warnings) == 2
    assert any("outside the template directories" in w for w in result.warnings)
    assert any("fetch nothing from the network" in w for w in result.warnings)


def test_output_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory does not exist"):
        render.write_atomic(tmp_path / "no" / "r.pdf", b"%PDF-")
    render.write_atomic(tmp_path / "r.pdf", b"%PDF-")
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]  # no temporary file left


def test_long_tables_repeat_their_header_and_digests_wrap(tmp_path: Path) -> None:
    rows = "".join(
        f"<tr><td>{i}</td><td class='digest'>{'0123456789abcdef' * 12}</td></tr>" for i in range(90)
    )
    directory = brand(
        tmp_path,
        '<html><head><style>{% include "auditpipe/report.css" %}</style></head><body>'
        "<table><colgroup><col style='width: 10%'><col style='width: 30%'></colgroup>"
        f"<thead><tr><th>n</th><th>digest column</th></tr></thead><tbody>{rows}</tbody>"
        "</table></body></html>",
    )
    dirs = render.template_dirs(directory, "report.html.j2")
    pdf = tmp_path / "t.pdf"
    result = render.write_pdf(render.render_html(fake(), dirs), pdf, dirs)
    assert result.pages > 1
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert text.count("digest column") == result.pages
    assert "0123456789abcdef" * 12 not in text  # a 192-character digest wrapped in its cell
