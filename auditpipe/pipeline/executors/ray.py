"""The ``ray`` executor: each stage command a task on a Ray cluster node.

The task runs the command with ``sh -c`` in the same absolute directory on the
node (the repository must be on storage every node and the driver share) and
streams its output back line by line as a Ray streaming generator, ending with
the exit code and the worker's own environment. The driver never receives a
digest from a worker: it fingerprints the outputs itself after the task ends.
Ray retries are off (``max_retries=0``) unless the stage sets ``retries: N``,
since commands are not idempotent. ``ray`` is imported only here.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from auditpipe.errors import Error
from auditpipe.pipeline.executors.interface import (
    CommandJob,
    CommandOutcome,
    OutputSink,
    Placement,
)


class ClusterError(Error):
    """The Ray cluster cannot be used (not installed, unreachable)."""

    exit_code = 2


def ray_options(job: CommandJob) -> dict[str, Any]:
    """Ray task options for ``job``: its resources, retries off unless asked for."""
    resources = job.resources
    options: dict[str, Any] = {
        "num_cpus": resources.get("cpus", 1),
        "max_retries": job.retries,
        "retry_exceptions": False,
    }
    if "gpus" in resources:
        options["num_gpus"] = resources["gpus"]
    if "memory" in resources:
        options["memory"] = resources["memory"]
    if resources.get("custom"):
        options["resources"] = dict(resources["custom"])
    return options


@functools.cache
def worker_environment() -> dict[str, Any]:
    """The worker's Python, platform, package digest and Ray placement facts.

    Computed once per worker process (Ray reuses workers across tasks):
    listing the installed distributions costs ~90 ms, most of a short stage's
    overhead when it was done on every task. A worker's installed packages do
    not change while it lives (a new ``runtime_env`` gets new workers).
    """
    import hashlib
    import importlib.metadata
    import platform

    import ray

    context = ray.get_runtime_context()
    packages = sorted(
        f"{d.metadata['Name']}=={d.version}"
        for d in importlib.metadata.distributions()
        if d.metadata["Name"]
    )
    worker: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packagesDigest": hashlib.sha256("\n".join(packages).encode()).hexdigest(),
    }
    runtime_env = context.get_runtime_env_string()  # type: ignore[no-untyped-call]
    if runtime_env not in ("", "{}"):
        worker["runtimeEnv"] = runtime_env
    return {
        "nodeId": context.get_node_id(),
        "address": ray.util.get_node_ip_address(),  # type: ignore[no-untyped-call]
        "version": ray.__version__,
        "worker": worker,
    }


def run_on_node(cmd: str, cwd: str, env: Mapping[str, str]) -> Iterator[Any]:
    """The task body (runs on a worker): yields ``(stream, line)`` then a result dict."""
    import copy
    import queue
    import subprocess

    where = copy.deepcopy(worker_environment())
    if not os.path.isdir(cwd):
        yield {
            **where,
            "exitCode": None,
            "failure": f"the directory {cwd} does not exist on node {where['nodeId'][:12]}; "
            "put the repository on storage shared by the driver and every node",
        }
        return
    proc = subprocess.Popen(
        cmd,
        shell=True,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: queue.Queue[tuple[str, bytes] | None] = queue.Queue()

    def pump(stream: str, pipe: Any) -> None:
        for raw in iter(pipe.readline, b""):
            lines.put((stream, raw))
        lines.put(None)

    for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        threading.Thread(target=pump, args=(stream, pipe), daemon=True).start()
    open_streams = 2
    while open_streams:
        item = lines.get()
        if item is None:
            open_streams -= 1
        else:
            yield item
    yield {**where, "exitCode": proc.wait(), "failure": None}


class RayExecutor:
    """Submits each command as a Ray task; one connection per ``auditpipe run``."""

    kind = "ray"
    missing_hint = (
        " where the driver can read it; on a cluster, write outputs to shared storage "
        "(a filesystem every node and the driver mount at the same path)"
    )

    def __init__(self, address: str | None = None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self._lock = threading.Lock()
        self._running: dict[Any, str] = {}  # task generator -> its stage
        self._stopped: set[str] = set()  # stages stopped one by one: none starts again
        self._remote: Any = None
        self._connected_here = False  # a connection someone else made is theirs to end

    def connect(self) -> None:
        """Connect to the cluster (or start a local one when no address is given)."""
        try:
            import ray
        except ImportError as exc:
            raise ClusterError(
                "the ray executor needs Ray", hint="install it: pip install 'auditpipe[ray]'"
            ) from exc
        where = self.address or "a new local Ray instance"
        _check_reachable(self.address)
        try:
            if not ray.is_initialized():
                self._connected_here = True
                ray.init(
                    address=self.address,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                    configure_logging=False,
                )
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot connect to the Ray cluster at {where}: {exc}",
                hint="check --address / RAY_ADDRESS and that the head node is up",
            ) from exc
        self._remote = ray.remote(num_returns="streaming")(run_on_node)

    def launch(self, job: CommandJob, output: OutputSink) -> CommandOutcome:
        import ray

        if self._remote is None:
            self.connect()
        generator = self._remote.options(**ray_options(job)).remote(job.cmd, job.cwd, job.env)
        with self._lock:
            self._running[generator] = job.stage
            stopped = job.stage in self._stopped
        if stopped:  # stopped while it was being submitted
            ray.cancel(generator, force=True)
        result: dict[str, Any] | None = None
        try:
            for ref in generator:
                item = ray.get(ref)
                if isinstance(item, dict):
                    result = item
                else:
                    output(item[0], item[1])
        except ray.exceptions.RayError as exc:
            return CommandOutcome(None, f"the Ray task failed: {_first_line(exc)}")
        finally:
            with self._lock:
                self._running.pop(generator, None)
        if result is None:
            return CommandOutcome(None, "the Ray task ended without reporting an exit code")
        placement = Placement(
            kind="ray",
            node_id=result["nodeId"],
            address=result["address"],
            version=result["version"],
            worker=result["worker"],
        )
        return CommandOutcome(result["exitCode"], result["failure"], placement)

    def stop(self, stage: str | None = None) -> None:
        import ray

        with self._lock:
            if stage is not None:
                self._stopped.add(stage)
            running = [g for g, s in self._running.items() if stage in (None, s)]
        for generator in running:
            try:
                ray.cancel(generator, force=True)
            except Exception:  # best effort while interrupting
                continue

    def close(self) -> None:
        """End the connection this executor made (which stops a local instance it
        started); a cluster reached by address keeps running, and a connection the
        caller made before is left to the caller."""
        if self._remote is not None and self._connected_here:
            import ray

            ray.shutdown()
        self._remote = None
        self._connected_here = False


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Fail fast when the head's port does not answer: Ray itself retries for minutes."""
    if address is None or address in ("auto", "local"):
        return
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(
            f"the Ray address {address!r} is not host:port or ray://host:port",
            hint="pass --address HOST:PORT of the head node (or set RAY_ADDRESS)",
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(
            f"the Ray head at {address} is unreachable: {exc.strerror or exc}",
            hint="start the cluster (`ray start --head`) or fix --address / RAY_ADDRESS",
        ) from exc


def _first_line(exc: BaseException) -> str:
    """A Ray error's message without its embedded remote traceback."""
    text = str(exc).strip()
    kind = type(exc).__name__
    first = text.splitlines()[0] if text else ""
    if len(first) > 160 and ". " in first:  # Ray's advice on where to look goes on and on
        first = first.split(". ", 1)[0] + "."
    return f"{kind}: {first}" if first else kind
