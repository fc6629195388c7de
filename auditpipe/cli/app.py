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
from rich.console import Console, ConsoleDimensions

from auditpipe import __version__

app = App(
    name="auditpipe",
    help="Signed, git-backed lineage and audit evidence for ML pipelines.",
    version=__version__,
    result_action="return_value",
    exit_on_error=False,
)

UNBOUNDED = 1_000_000


class Stream(Console):
    """A console that fits a terminal's width, and never cuts or wraps anything else.

    Trees and tables lay out to the console width, which rich takes to be 80 when
    the output is a file, a pipe or a CI log: a digest cut mid-way is worse than a
    long line there. Asked each time, since tests and callers swap ``sys.stdout``.
    """

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(UNBOUNDED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


# Output goes to stdout; diagnostics and progress go to stderr.
out = Stream(soft_wrap=True, highlight=False)
err = Stream(stderr=True, soft_wrap=True, highlight=False)


def print_json(value: Any) -> None:
    """Print machine-readable output: stable key order, one document."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
