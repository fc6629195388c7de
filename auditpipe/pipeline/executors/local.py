"""The ``local`` executor: each command a subprocess of this machine, in its own session."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import IO

from auditpipe.pipeline.executors.interface import CommandJob, CommandOutcome, OutputSink


class LocalExecutor:
    """Runs commands with ``sh -c`` in a new session, so a stop kills their whole group."""

    kind = "local"
    missing_hint = ""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: dict[subprocess.Popen[bytes], str] = {}  # -> its stage
        self._stopped: set[str] = set()  # stages stopped one by one: none starts again

    def launch(self, job: CommandJob, output: OutputSink) -> CommandOutcome:
        try:
            proc = subprocess.Popen(
                job.cmd,
                shell=True,
                cwd=job.cwd,
                env=dict(job.env),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            from auditpipe.faults import describe

            what, hint = describe(exc, "run")
            return CommandOutcome(
                None, f"could not start command: {what}" + (f" ({hint})" if hint else "")
            )
        with self._lock:
            self._children[proc] = job.stage
            stopped = job.stage in self._stopped
        if stopped:  # stopped while it was being started
            self._end([proc])
        readers = [
            threading.Thread(target=_pump, args=("stdout", proc.stdout, output)),
            threading.Thread(target=_pump, args=("stderr", proc.stderr, output)),
        ]
        for reader in readers:
            reader.start()
        code = proc.wait()
        for reader in readers:
            reader.join()
        with self._lock:
            self._children.pop(proc, None)
        return CommandOutcome(code)

    def stop(self, stage: str | None = None) -> None:
        with self._lock:
            if stage is not None:
                self._stopped.add(stage)
            children = [p for p, s in self._children.items() if stage in (None, s)]
        self._end(children)

    @staticmethod
    def _end(children: list[subprocess.Popen[bytes]]) -> None:
        """SIGTERM each child's process group; SIGKILL what is left after 5 s."""
        for proc in children:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 5
        for proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def close(self) -> None:
        return None


def _pump(stream: str, pipe: IO[bytes] | None, output: OutputSink) -> None:
    if pipe is None:
        return
    for raw in iter(pipe.readline, b""):
        output(stream, raw)
    pipe.close()
