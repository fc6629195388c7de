"""``report``: lineage and compliance PDFs for auditors (WeasyPrint is loaded only here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from cyclopts import Parameter
from rich.markup import escape

from auditpipe.cli.app import app, err, out
from auditpipe.errors import ConfigError, VerificationFailed


@app.command
def report(
    artifact: str | None = None,
    /,
    *,
    output: Annotated[Path, Parameter(name=["-o", "--output"])],
    html: Path | None = None,
    policy: Path | None = None,
    template: Path | None = None,
    ledger: bool = False,
    since: str | None = None,
    until: str | None = None,
    trust_ref: str | None = None,
) -> int:
    """Write an audit report as PDF: an artifact's lineage, or (--ledger) a period's activity.

    The report's time is that of the newest ledger entry (or $SOURCE_DATE_EPOCH), so
    the same ledger and template give a byte-identical PDF. Exits 0 once the report
    is written, whatever its verdict (`auditpipe gate` and `verify` fail checks).

    Parameters
    ----------
    artifact
        The file to report on: its sha256, lineage, runs, gates and source data.
    output
        Where to write the PDF.
    html
        Also write the report as one self-contained HTML file.
    policy
        Judge the artifact under this policy, rule by rule (e.g. policies/default.yaml).
    template
        A directory with your own report.html.j2 (and activity.html.j2) for branding;
        other template files are taken from auditpipe's.
    ledger
        Report the ledger's activity instead: every run and promotion in a period.
    since
        With --ledger: the first day (YYYY-MM-DD) or instant (RFC 3339) to include.
    until
        With --ledger: the last day (YYYY-MM-DD, inclusive) or instant to include.
    trust_ref
        Read the policy, keys and identities from this git revision (e.g. origin/main),
        never from the working tree (default: $AUDITPIPE_TRUST_REF, else the working tree).
    """
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.report import render

    if ledger == (artifact is not None):
        raise ConfigError(
            "give an artifact or --ledger (not both)",
            hint="`auditpipe report models/model.pkl -o report.pdf`, or "
            "`auditpipe report --ledger --since 2026-01-01 -o activity.pdf`",
        )
    if not ledger and (since or until):
        raise ConfigError("--since and --until select a period of the activity report (--ledger)")
    main = "activity.html.j2" if ledger else "report.html.j2"
    dirs = render.template_dirs(template, main)
    from auditpipe.cli.progress import working
    from auditpipe.cli.trust_cmds import open_trust_root, trust_line

    unrecorded = False
    with Ledger.open() as book, working("collecting the evidence") as beat:
        from auditpipe.anchor.pinned import verify_pinned

        trust = open_trust_root(book.workspace, trust_ref, policies=[policy] if policy else [])
        anchor_failure: VerificationFailed | None = None
        try:
            verify_pinned(book, trust)
        except VerificationFailed as exc:
            if not ledger:
                raise  # an artifact's lineage is read through the index: nothing to report
            # The activity report is the auditor's view of a broken ledger: write it
            # (it lists every violation it finds itself), then fail.
            anchor_failure = exc
        loaded = None
        if policy is not None:
            from auditpipe.policy.load import load_policy

            loaded = load_policy(policy, trust)
        document: Any
        if ledger:
            from auditpipe.report.activity import activity_report, period

            document = activity_report(book, period(since, until), loaded, trust)
            summary = (
                f"{document.entries} entries, {document.period}, "
                f"{len(document.failures)} failure(s)"
            )
        else:
            from auditpipe.report.model import artifact_report, collect
            from auditpipe.report.stamp import parse_time, stamp
            from auditpipe.report.summary import with_summary

            lineage, decision = collect(book, artifact or "", loaded, trust)
            made = stamp(book)
            document = artifact_report(book, lineage, decision, loaded, made, trust)
            now = parse_time(made.time)
            assert now is not None
            document = with_summary(book, lineage, decision, loaded, document, now, trust)
            under = f" under policy {document.policy.name}" if document.policy else ""
            summary = f"{document.verdict} {document.artifact}{under}"
            unrecorded = lineage.root is None
        beat.set("main", f"rendering {output}")
        text = render.render_html(document, dirs)
        if html is not None:
            render.write_atomic(html, text.encode("utf-8"))
        result = render.write_pdf(text, output, dirs)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    out.print(f"wrote {escape(str(output))} ({result.pages} pages): {escape(summary)}")
    if html is not None:
        out.print(f"wrote {escape(str(html))}")
    out.print(trust_line(trust))
    if anchor_failure is not None:
        raise anchor_failure
    if not ledger and unrecorded:
        err.print(
            f"[bold red]DENY:[/] no signed run produced {escape(artifact or '')} as it is now "
            "(never recorded, or changed after its run); the report says so on page 1"
        )
        return 1
    return 0
