"""Command-line interface: parse, call the core, render, map errors to exit codes.

One module per verb group; this module wires them together and owns the single
handler that turns an ``auditpipe.errors.Error`` into a message and an exit code
(2 for bad input or environment, 1 when a check said no).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from cyclopts import CycloptsError
from rich.markup import escape

from auditpipe.cli import (  # noqa: F401  (registers commands)
    approve_cmd,
    cache_cmds,
    export_cmds,
    fingerprint_cmd,
    gate_cmds,
    ledger_cmds,
    lock_cmds,
    pipeline_cmds,
    plots_cmds,
    policy_cmds,
    remote_cmds,
    report_cmds,
    reproduce_cmd,
    run_cmd,
    setup_cmds,
    sync_cmds,
    trust_cmds,
)
from auditpipe.cli.app import app, err
from auditpipe.errors import Error


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``auditpipe`` console script."""
    tokens = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(tokens)
    except CycloptsError:
        # cyclopts has already printed its own panel describing the usage error.
        return 2
    except Error as exc:
        err.print(f"[bold red]error:[/] {escape(exc.diagnostics())}")
        return exc.exit_code
    except OSError as exc:
        # Last resort: modules map OSError where the path is known (auditpipe.faults);
        # one that escapes still names its path and what to do, never a traceback.
        from auditpipe.faults import os_fault

        fault = os_fault(exc, verb="use")
        err.print(f"[bold red]error:[/] {escape(fault.diagnostics())}")
        return fault.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    return 0


def run() -> None:
    """``python -m auditpipe`` support."""
    sys.exit(main())
