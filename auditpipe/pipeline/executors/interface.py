"""The executor plug point: run one stage's command somewhere, report how it ended."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# (stream, raw line) for each line of output, as it arrives.
OutputSink = Callable[[str, bytes], None]


@dataclass(frozen=True)
class CommandJob:
    """One stage command to run: what, where (absolute cwd), with which environment."""

    stage: str
    cmd: str
    cwd: str
    env: Mapping[str, str]
    resources: Mapping[str, Any] = field(default_factory=dict)
    retries: int = 0


@dataclass(frozen=True)
class Placement:
    """Where a command ran, and the environment it saw there (recorded in the run)."""

    kind: str
    node_id: str | None = None
    address: str | None = None
    version: str | None = None
    worker: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class CommandOutcome:
    """How the command ended: an exit code, or a failure saying why there is none."""

    exit_code: int | None
    failure: str | None = None
    placement: Placement | None = None


class CommandExecutor(Protocol):
    """Runs stage commands; one instance per ``auditpipe run``, used from many threads."""

    kind: str
    # Said after "did not write X" when outputs are missing after a successful command.
    missing_hint: str

    def launch(self, job: CommandJob, output: OutputSink) -> CommandOutcome:
        """Run ``job`` to completion, passing each output line to ``output``."""

    def stop(self, stage: str | None = None) -> None:
        """Stop every running command (Ctrl-C/SIGTERM; their runs are not recorded),
        or only ``stage``'s (its gate's suite was refused while it ran); a command
        of ``stage`` that starts after that is stopped at once."""

    def close(self) -> None:
        """Release what the executor holds (a cluster connection, say)."""
