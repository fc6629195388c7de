"""Send RunEvents live through the official ``openlineage-python`` client, never in the way.

The client is configured the way it is everywhere (``OPENLINEAGE_URL`` /
``OPENLINEAGE_API_KEY``, ``OPENLINEAGE_CONFIG`` / ``openlineage.yml``,
``OPENLINEAGE__...`` variables, ``OPENLINEAGE_DISABLED``) and imported only
when one of those is set. Events go out on one background thread in order; a
backend that fails is warned about once and no more events are sent to it; at
the end of the run at most ``timeout`` seconds are spent waiting for it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from auditpipe.export.openlineage.events import (
    EventContext,
    StageStart,
    abort_event,
    end_event,
    start_event,
)
from auditpipe.export.openlineage.runid import new_run_id
from auditpipe.export.openlineage.switch import configured as configured
from auditpipe.pipeline.facts import code_state, now_rfc3339
from auditpipe.pipeline.recorder import CODE_SUFFIXES, material

if TYPE_CHECKING:
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.pipeline.planner import Assessment
    from auditpipe.pipeline.spec import StageSpec
    from auditpipe.workspace import Workspace

TIMEOUT_ENV = "AUDITPIPE_OPENLINEAGE_TIMEOUT"
COLUMN_STATS_ENV = "AUDITPIPE_OPENLINEAGE_COLUMN_STATS"
DEFAULT_TIMEOUT = 3.0
Warn = Callable[[str], None]


class Sender(Protocol):
    """Sends one event; ``prepare`` does the slow set-up (importing the client)."""

    def prepare(self) -> None: ...
    def __call__(self, event: dict[str, Any]) -> None: ...


def timeout_setting() -> float:
    try:
        return max(0.1, float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT)))
    except ValueError:
        return DEFAULT_TIMEOUT


def live_lineage(workspace: Workspace, ledger: Ledger, warn: Warn) -> LiveLineage | None:
    """The listener that sends this run's events, or None when OpenLineage is not configured."""
    if not configured():
        return None
    timeout = timeout_setting()
    column_stats = os.environ.get(COLUMN_STATS_ENV, "").strip().lower() in ("1", "true", "yes")
    try:
        ctx = EventContext.of(workspace, column_stats=column_stats)
    except Exception as exc:  # lineage never fails a run
        warn(f"OpenLineage is configured but lineage cannot be described: {_short(exc)}")
        return None
    return LiveLineage(ctx, ledger, EventChannel(ClientSender(timeout), warn, timeout))


class ClientSender:
    """Emits through ``OpenLineageClient()``, built (and imported) by ``prepare``."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.client: Any = None

    def prepare(self) -> None:
        self.client = _client(self.timeout)

    def __call__(self, event: dict[str, Any]) -> None:
        if self.client is None:
            self.prepare()
        self.client.emit(_client_event(event))


class EventChannel:
    """Sends events in order on a daemon thread; ``put`` never blocks or raises."""

    def __init__(self, send: Sender, warn: Warn, timeout: float) -> None:
        self._send, self._warn, self._timeout = send, warn, timeout
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._failed = False
        self._busy_since: float | None = None
        self._once = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="openlineage", daemon=True)
        self._thread.start()

    def put(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def warn(self, message: str) -> None:
        self._warn(message)

    def close(self) -> None:
        """Wait at most ``timeout`` seconds for the events still queued, and not at
        all for a request that has already had its ``timeout``."""
        self._queue.put(None)
        deadline = time.monotonic() + self._timeout
        while self._thread.is_alive():
            busy = self._busy_since
            limit = deadline if busy is None else min(deadline, busy + self._timeout)
            remaining = limit - time.monotonic()
            if remaining <= 0:
                break
            self._thread.join(min(remaining, 0.05))
        if self._thread.is_alive():
            self._give_up(
                f"the OpenLineage backend did not answer within {self._timeout:g}s; "
                "events still queued were not sent (`auditpipe export openlineage` "
                "can send them later)"
            )

    def _give_up(self, message: str) -> None:
        """Stop sending and warn, once, whoever notices first."""
        with self._once:
            if self._failed:
                return
            self._failed = True
        self._warn(message)

    def _loop(self) -> None:
        try:
            self._send.prepare()
        except Exception as exc:  # e.g. an unreadable openlineage.yml
            self._give_up(f"cannot set up the OpenLineage client: {_short(exc)}")
        while (event := self._queue.get()) is not None:
            if self._failed:
                continue  # given up on this backend: the backfill sends these later
            self._busy_since = time.monotonic()
            try:
                self._send(event)
            except Exception as exc:  # any backend problem: warn once, keep the run going
                self._give_up(
                    f"could not send lineage to the OpenLineage backend ({_short(exc)}); "
                    "no more events are sent this run, the run goes on "
                    "(`auditpipe export openlineage` can send them later)"
                )
            finally:
                self._busy_since = None


class LiveLineage:
    """The executor's listener when OpenLineage is configured."""

    def __init__(self, ctx: EventContext, ledger: Ledger, channel: EventChannel) -> None:
        self.ctx, self.ledger, self.channel = ctx, ledger, channel
        self._starts: dict[str, StageStart] = {}

    def started(self, stage: StageSpec, assessment: Assessment) -> str:
        run_id = new_run_id()
        try:
            code = [d for d in assessment.deps if Path(d).suffix.lower() in CODE_SUFFIXES]
            start = StageStart(
                run_id=run_id,
                stage=stage.name,
                command=stage.cmd,
                params=dict(assessment.params),
                stage_key=assessment.key,
                commit=code_state(self.ledger.workspace, code).commit,
                inputs=tuple(material(fp) for _p, fp in sorted(assessment.deps.items())),
                outputs=tuple(sorted(stage.all_outputs)),
                started_at=now_rfc3339(),
            )
            self._starts[run_id] = start
            self.channel.put(start_event(self.ctx, start))
        except Exception as exc:  # lineage never fails a run
            self.channel.warn(f"could not describe stage {stage.name!r} for lineage: {exc}")
        return run_id

    def recorded(self, run_id: str, entry_id: str) -> None:
        self._starts.pop(run_id, None)
        try:
            self.channel.put(end_event(self.ctx, self.ledger.get(entry_id)))
        except Exception as exc:
            self.channel.warn(f"could not describe run {entry_id[:12]} for lineage: {exc}")

    def aborted(self, run_id: str) -> None:
        start = self._starts.pop(run_id, None)
        if start is not None:
            self.channel.put(abort_event(self.ctx, start, now_rfc3339()))

    def close(self) -> None:
        """End every run still open (its record failed) with ABORT, then flush."""
        for run_id in list(self._starts):
            self.aborted(run_id)
        self.channel.close()


def _client(timeout: float) -> Any:
    from openlineage.client import OpenLineageClient

    named = os.environ.get("OPENLINEAGE_CONFIG")
    if named and not Path(named).is_file():
        raise FileNotFoundError(f"OPENLINEAGE_CONFIG names {named}, which is not a file")

    if not os.environ.get("OPENLINEAGE_CLIENT_LOGGING"):
        # The client logs each failure; we warn once ourselves.
        logging.getLogger("openlineage").addHandler(logging.NullHandler())
        logging.getLogger("openlineage").propagate = False
    client = OpenLineageClient()
    transport: Any = client.transport
    if isinstance(getattr(transport, "timeout", None), int | float):
        transport.timeout = min(transport.timeout, timeout)  # bounded, whatever the config says
    config = getattr(transport, "config", None)
    if config is not None and getattr(config, "retry", None) is _default_retry():
        # The client's default retries (5, with backoff) would keep one event busy
        # for many timeouts; unless the user configured retries, try each once.
        config.retry = {"total": 0}
    return client


def _default_retry() -> Any:
    try:
        from openlineage.client.transport.http_common import DEFAULT_RETRY_CONFIG
    except ImportError:  # an older client without it
        return None
    return DEFAULT_RETRY_CONFIG


def _client_event(doc: dict[str, Any]) -> Any:
    """The document as the client's RunEvent; facets stay the JSON we built."""
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )

    return RunEvent(
        eventType=RunState(doc["eventType"]),
        eventTime=doc["eventTime"],
        run=Run(runId=doc["run"]["runId"], facets=doc["run"]["facets"]),
        job=Job(
            namespace=doc["job"]["namespace"], name=doc["job"]["name"], facets=doc["job"]["facets"]
        ),
        inputs=[
            InputDataset(
                namespace=d["namespace"],
                name=d["name"],
                facets=d.get("facets", {}),
                inputFacets=d.get("inputFacets", {}),
            )
            for d in doc["inputs"]
        ],
        outputs=[
            OutputDataset(
                namespace=d["namespace"],
                name=d["name"],
                facets=d.get("facets", {}),
                outputFacets=d.get("outputFacets", {}),
            )
            for d in doc["outputs"]
        ],
        producer=doc["producer"],
    )


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
