"""Render a report: Jinja2 templates to HTML, WeasyPrint to PDF, byte for byte reproducibly.

Templates are looked up first in a company's own directory (``--template``),
then in ``auditpipe/report/templates`` (``report_templates/`` at the repo
root). A custom directory must hold the main template of the report being made
(``report.html.j2``, or ``activity.html.j2`` for the activity report): a
directory without it is almost certainly the wrong path, and silently printing
the stock layout would hand an auditor an unbranded report. Partials
(``_base.html.j2``, ``_macros.html.j2``, ``report.css``) fall back to the
built-in ones, so a company overrides only what it brands.

Reproducible output: the PDF's dates come from the report's stamp (the ledger,
never the clock), its file identifier is derived from the HTML, and resources
are fetched only from the template directories (``file:``) or ``data:`` URLs.
Template and WeasyPrint failures become ``ConfigError`` naming file and line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditpipe.errors import ConfigError

TEMPLATES = Path(__file__).resolve().parent / "templates"
PARTIALS = ("_base.html.j2", "_macros.html.j2", "report.css")


@dataclass(frozen=True)
class Rendered:
    """What was written."""

    pages: int
    warnings: list[str] = field(default_factory=list)


def template_dirs(custom: Path | None, main: str) -> list[Path]:
    """The directories templates are looked up in, custom first; checked up front."""
    if not (TEMPLATES / main).is_file():
        raise ConfigError(
            f"the report templates are missing from this installation ({TEMPLATES / main})",
            hint="reinstall auditpipe: its wheel ships auditpipe/report/templates/",
        )
    if custom is None:
        return [TEMPLATES]
    if not custom.is_dir():
        raise ConfigError(
            "template directory not found",
            path=custom,
            hint="give a directory holding report.html.j2 (start from a copy of report_templates/)",
        )
    if not (custom / main).is_file():
        raise ConfigError(
            f"the template directory has no {main}",
            path=custom,
            hint=f"a template directory must hold {main}; copy it from report_templates/ and "
            f"edit it ({', '.join(PARTIALS)} are taken from auditpipe when absent)",
        )
    return [custom.resolve(), TEMPLATES]


def render_html(report: Any, dirs: list[Path]) -> str:
    """The report as one self-contained HTML document."""
    import jinja2

    builtin = jinja2.FileSystemLoader(str(TEMPLATES))
    env = jinja2.Environment(
        # "auditpipe/<name>" always names the built-in template, so a custom
        # report.html.j2 can extend auditpipe's and override only its blocks.
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader([str(d) for d in dirs]),
                jinja2.PrefixLoader({"auditpipe": builtin}),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["short"] = lambda value: str(value)[:12]
    env.filters["signer"] = lambda value: (
        str(value)[:16] if str(value).startswith("key ") else str(value)
    )
    try:
        template = env.get_template(report.template)
        return template.render(report=report, stamp=report.stamp)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"template syntax error: {exc.message}",
            path=exc.filename or exc.name or report.template,
            line=exc.lineno,
            hint="fix the template (Jinja2 syntax: https://jinja.palletsprojects.com/templates/)",
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"template {exc.name!r} not found in {', '.join(str(d) for d in dirs)}",
            path=_template_frame(exc)[0],
            line=_template_frame(exc)[1],
        ) from None
    except jinja2.TemplateError as exc:
        where, line = _template_frame(exc)
        raise ConfigError(
            f"template error: {exc}",
            path=where or report.template,
            line=line,
            hint="the names templates can use are the fields of auditpipe/report/views.py",
        ) from None


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line in a Jinja traceback."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".j2", ".css", ".html")):
            return frame.filename, frame.lineno
    return None, None


def write_pdf(html: str, target: Path, dirs: list[Path]) -> Rendered:
    """Lay the HTML out and write the PDF (atomically: a half-written file never appears)."""
    import weasyprint

    collected = _Warnings()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collected)
    propagate, logger.propagate = logger.propagate, False
    try:
        document = weasyprint.HTML(
            string=html, base_url=dirs[0].as_uri() + "/", url_fetcher=_fetcher(dirs)
        ).render()
        identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode()
        data = document.write_pdf(pdf_identifier=identifier, custom_metadata=True)
    finally:
        logger.removeHandler(collected)
        logger.propagate = propagate
    assert isinstance(data, bytes)
    write_atomic(target, data)
    return Rendered(pages=len(document.pages), warnings=collected.messages)


def write_atomic(target: Path, data: bytes) -> None:
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigError(
            "cannot write the report: its directory does not exist",
            path=target,
            hint=f"create {directory} first, or write elsewhere with -o",
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"cannot write the report: {exc.strerror}", path=target) from exc


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _fetcher(dirs: list[Path]) -> Any:
    """A WeasyPrint URL fetcher that reads only ``data:`` URLs and the template directories."""
    from weasyprint.urls import URLFetcher

    roots = [d.resolve() for d in dirs]

    class LocalOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:"):
                from urllib.request import url2pathname

                path = Path(url2pathname(url.removeprefix("file:").split("?")[0])).resolve()
                if not any(path.is_relative_to(root) for root in roots):
                    raise ValueError(f"{url} is outside the template directories")
            elif not url.startswith("data:"):
                raise ValueError(f"{url}: reports fetch nothing from the network")
            return super().fetch(url, headers)

    return LocalOnly(allowed_protocols=("file", "data"))
