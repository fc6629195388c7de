"""Where a stage's command runs: the executor interface and its implementations.

``local`` runs subprocesses on this machine; ``ray`` runs each command as a
task on a Ray cluster. Either way the driver alone fingerprints, signs and
appends: an executor only runs a command and reports how it ended and where.
"""

from auditpipe.pipeline.executors.interface import (
    CommandExecutor,
    CommandJob,
    CommandOutcome,
    OutputSink,
    Placement,
)

__all__ = ["CommandExecutor", "CommandJob", "CommandOutcome", "OutputSink", "Placement"]
