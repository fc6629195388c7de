"""``auditpipe validate`` and ``auditpipe suite init``: validation gates by hand.

Great Expectations is imported inside the commands only (through
``auditpipe.gates``), so registering these verbs costs nothing to the others.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter
from rich.markup import escape

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.errors import ConfigError

suite_app = App(name="suite", help="Draft Great Expectations suites for validation gates.")
app.command(suite_app)


@app.command
def validate(data: Path, /, *, suite: Path, json: bool = False) -> int:
    """Validate a data file against a Great Expectations suite (exit 1 if it fails).

    Parameters
    ----------
    data
        The data file: Parquet, CSV/TSV or Arrow/Feather.
    suite
        The suite: Great Expectations 1.x JSON.
    json
        Print the recorded form of the result as JSON.
    """
    from auditpipe.cli.progress import working
    from auditpipe.gates import describe_failure, run_gate

    with working("loading Great Expectations", enabled=not json) as beat:
        _load_gx()
        beat.set("main", f"validating {data} against {suite}")
        result = run_gate(data, suite, display_data=os.fspath(data), display_suite=os.fspath(suite))
    if json:
        print_json(result.model_dump(by_alias=True, mode="json"))
        return 0 if result.success else 1
    stats = result.statistics
    total, passed = stats["evaluatedExpectations"], stats["successfulExpectations"]
    where = (
        f"{escape(result.data)} against {escape(result.suite_path)} (suite {escape(result.suite)})"
    )
    if result.success:
        out.print(f"[green]✓[/] {where}: {total}/{total} expectations passed")
        return 0
    out.print(
        f"[bold red]✗[/] {where}: {total - passed} of {total} expectations failed "
        f"({stats['successPercent']}% passed)"
    )
    for failure in result.failed_expectations:
        out.print(f"  - {escape(describe_failure(failure))}")
    return 1


@suite_app.command(name="init")
def init(
    data: Path,
    /,
    *,
    output: Annotated[Path | None, Parameter(name=["-o", "--output"])] = None,
    name: str | None = None,
    force: bool = False,
) -> int:
    """Draft a starter suite from a data file; it passes on that data.

    Columns exist, keep their types, have no nulls (where none are now), stay in
    the observed range (numbers) and in the observed values (low-cardinality
    columns). Review and loosen it before using it as a gate.

    Parameters
    ----------
    data
        The data file to draft from: Parquet, CSV/TSV or Arrow/Feather.
    output
        Where to write the suite (default: print it).
    name
        The suite's name (default: the output file's stem, or the data file's).
    force
        Overwrite an existing output file.
    """
    from auditpipe.gates import draft_suite
    from auditpipe.gates.draft import write_draft

    if output is not None and output.exists() and not force:
        raise ConfigError(
            "suite file already exists", path=output, hint="pass --force to overwrite it"
        )
    stem = (output or data).name.split(".")[0]
    from auditpipe.cli.progress import working

    # GX loads on a thread while the data is read and profiled (see gates.draft)
    with working(f"loading Great Expectations, drafting a suite from {data}"):
        draft = draft_suite(data, os.fspath(data), name=name or stem)
    if output is None:
        sys.stdout.write(draft.to_json())
    else:
        write_draft(draft, output)
        err.print(
            f"wrote {escape(os.fspath(output))}: {draft.expectations} expectations "
            f"from {draft.rows} rows × {draft.columns} columns of {escape(os.fspath(data))}"
        )
    for dropped in draft.dropped:
        err.print(f"left out (not confirmed on the data): {escape(dropped)}")
    return 0


def _load_gx() -> None:
    """Import Great Expectations now (seconds), so progress can say that is what runs."""
    from auditpipe.gates.session import gx_session

    with gx_session():
        pass
