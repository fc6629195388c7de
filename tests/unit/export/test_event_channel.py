"""The live channel never blocks a run for longer than its timeout and warns once."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from auditpipe.export.openlineage.emitter import EventChannel


class Stuck:
    """A backend that takes every request and never answers."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[dict[str, Any]] = []

    def prepare(self) -> None:
        return None

    def __call__(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        self.release.wait(30)


class Failing:
    def __init__(self) -> None:
        self.calls = 0

    def prepare(self) -> None:
        return None

    def __call__(self, event: dict[str, Any]) -> None:
        self.calls += 1
        raise ConnectionError("connection refused")


def test_close_waits_at_most_the_timeout_for_a_stuck_backend() -> None:
    warnings: list[str] = []
    backend = Stuck()
    channel = EventChannel(backend, warnings.append, timeout=0.5)
    channel.put({"n": 1})
    channel.put({"n": 2})
    start = time.monotonic()
    channel.close()
    elapsed = time.monotonic() - start
    backend.release.set()
    assert elapsed < 0.5 + 0.3
    assert len(warnings) == 1 and "did not answer within 0.5s" in warnings[0]


def test_a_request_that_already_had_its_timeout_is_not_waited_for() -> None:
    warnings: list[str] = []
    backend = Stuck()
    channel = EventChannel(backend, warnings.append, timeout=0.3)
    channel.put({"n": 1})
    time.sleep(0.5)  # the run goes on meanwhile; the request is already past its timeout
    start = time.monotonic()
    channel.close()
    backend.release.set()
    assert time.monotonic() - start < 0.1
    assert len(warnings) == 1


def test_a_failing_backend_is_warned_about_once_and_not_called_again() -> None:
    warnings: list[str] = []
    backend = Failing()
    channel = EventChannel(backend, warnings.append, timeout=1)
    for n in range(5):
        channel.put({"n": n})
    channel.close()
    assert backend.calls == 1
    assert len(warnings) == 1 and "connection refused" in warnings[0]


def test_with_the_real_client_a_dead_endpoint_costs_at_most_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The official client over HTTP to a black hole and to a closed port."""
    from auditpipe.export.openlineage.emitter import ClientSender
    from tests.lineage_support import BlackHole, closed_port_url

    for name in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)
    hole = BlackHole()
    try:
        for url in (hole.url, closed_port_url()):
            monkeypatch.setenv("OPENLINEAGE_URL", url)
            warnings: list[str] = []
            sender = ClientSender(timeout=0.5)
            sender.prepare()  # import and configure outside the measurement
            channel = EventChannel(sender, warnings.append, timeout=0.5)
            for n in range(4):
                channel.put(EVENT | {"eventTime": f"2026-01-01T00:00:0{n}Z"})
            start = time.monotonic()
            channel.close()
            assert time.monotonic() - start <= 0.5 + 0.3, url
            time.sleep(0.1)
            assert len(warnings) == 1, (url, warnings)
    finally:
        hole.close()
        # The client writes its URL into OPENLINEAGE__TRANSPORT__... variables.
        for name in [k for k in os.environ if k.startswith("OPENLINEAGE__")]:
            del os.environ[name]


EVENT: dict[str, Any] = {
    "eventType": "START",
    "eventTime": "2026-01-01T00:00:00Z",
    "producer": "https://auditpipe.dev/producer/test",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {"runId": "0190a5e2-7b3c-7def-8a01-23456789abcd", "facets": {}},
    "job": {"namespace": "test", "name": "stage", "facets": {}},
    "inputs": [],
    "outputs": [],
}
