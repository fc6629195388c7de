"""Leaving the process: quickly after a command that loaded Great Expectations.

Once a command is done, the interpreter's own exit tears down every module and
object; with great_expectations loaded that is ~2,300 modules and ~250,000
objects, 0.5–0.9 s on a 2-core machine, paid after all the work (a gated
``run``, ``validate``, ``suite init``) and longer than the validation itself.
So when GX is loaded, every other thread is a daemon (the interpreter would
abandon those too; GX's tqdm starts one) and the standard streams flush,
the process flushes them, runs the ``atexit`` handlers the interpreter would
run (logging's flush among them) and leaves with ``os._exit``. Everything
auditpipe writes is written and closed before the command returns (ledger
appends, locks and reports are atomic replaces), so the teardown only freed
memory. Every other command exits the ordinary way.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

HEAVY_TEARDOWN = "great_expectations"
LOADER_THREAD = "auditpipe-gx-loader"  # auditpipe.gates.loader's thread (not imported here)


def exit_process(code: int) -> NoReturn:
    """End the process with ``code`` (see the module docstring)."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    # Also while the loader thread is still importing GX (an error or Ctrl-C before
    # it finished): finalising the interpreter under a daemon thread mid-import
    # is where an interrupted gated run was seen to hang under load.
    loading = any(t.name == LOADER_THREAD and t.is_alive() for t in others)
    if (HEAVY_TEARDOWN in sys.modules or loading) and all(t.daemon for t in others):
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
        except (OSError, ValueError):
            sys.exit(code)  # a closed pipe: let the interpreter report it as it would
        atexit._run_exitfuncs()
        os._exit(code)
    sys.exit(code)
