"""The cyclopts application object and the terminal helpers every verb shares.

Verb modules (``auditpipe/cli/<verb>.py``) import ``app`` from here and register
their commands on it; ``auditpipe.cli.main`` imports them all and owns the one
error handler that maps ``auditpipe.errors.Error`` to an exit code.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from cyclopts import App

from auditpipe import __version__

app = App(
    name="auditpipe",
    help="Signed, git-backed lineage and audit evidence for ML pipelines.",
    version=__version__,
    result_action="return_value",
    exit_on_error=False,
)

# Terminal streams live in ``console`` (no cyclopts), re-exported for the verbs.
from auditpipe.cli.console import UNBOUNDED as UNBOUNDED  # noqa: E402
from auditpipe.cli.console import Stream as Stream  # noqa: E402
from auditpipe.cli.console import err as err  # noqa: E402
from auditpipe.cli.console import out as out  # noqa: E402


def print_json(value: Any) -> None:
    """Print machine-readable output: stable key order, one document."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
