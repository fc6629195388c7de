"""Helpers for tests against a real S3-compatible server on loopback (moto's server mode):
the server, the AWS environment that points at it, a byte-counting TCP proxy, and a
recorder of the S3 operations auditpipe's own client sends."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


def loopback_client(endpoint: str, monkeypatch: Any) -> Any:
    """A boto3 client on the loopback server, with the AWS environment pointing at it
    for auditpipe too (its cached S3 client is dropped, so it sees the new variables)."""
    import boto3

    from auditpipe.storage import s3 as store

    for name, value in aws_env(endpoint).items():
        monkeypatch.setenv(name, value)
    store.reset()
    return boto3.client("s3")


def forget_client() -> None:
    """Drop auditpipe's cached S3 client (after a test changed the AWS environment)."""
    from auditpipe.storage import s3 as store

    store.reset()


@contextmanager
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def require_auth(endpoint: str) -> Iterator[None]:
    """Make the server check credentials against its IAM (none exist: every key is refused)."""
    import requests

    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    try:
        yield
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)


class CountingProxy:
    """A TCP forwarder to ``target`` that counts the bytes the server sends back, and
    cuts every connection once ``cut_after`` bytes came back in all (a network failure
    mid-response)."""

    def __init__(self, target: str, cut_after: int | None = None) -> None:
        host, port = target.rsplit("//", 1)[1].split(":")
        self.target = (host, int(port))
        self.received = 0
        self.cut_after = cut_after
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if count:
                    with self._lock:
                        self.received += len(data)
                dst.sendall(data)
                if self.cut_after is not None and self.received > self.cut_after:
                    break
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


@contextmanager
def recorded_calls() -> Iterator[Counter[str]]:
    """The S3 operations auditpipe's client sends inside the block, by name."""
    from auditpipe.storage import s3

    calls: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    events = s3.client().meta.events
    events.register("before-call.s3", record)
    try:
        yield calls
    finally:
        events.unregister("before-call.s3", record)
