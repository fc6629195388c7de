"""OpenLineage test support: a real HTTP lineage endpoint on loopback, a black hole,
and validation of events against the vendored OpenLineage spec schemas."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SPEC = Path(__file__).parent / "data" / "openlineage_spec"


def _registry() -> Registry:
    docs = [json.loads((SPEC / "OpenLineage.json").read_text())]
    docs += [json.loads(p.read_text()) for p in sorted((SPEC / "facets").glob("*.json"))]
    ours = resources.files("auditpipe.export.openlineage").joinpath(
        "schemas", "AuditpipeRunFacet.json"
    )
    docs.append(json.loads(ours.read_text(encoding="utf-8")))
    return Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in docs)


REGISTRY = _registry()
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _check(uri: str, value: Any) -> None:
    validator = jsonschema.Draft202012Validator(
        {"$ref": uri},
        registry=REGISTRY,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    validator.validate(value)


def _facets(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from (event["run"].get("facets") or {}).values()
    yield from (event["job"].get("facets") or {}).values()
    for ds in [*event.get("inputs", []), *event.get("outputs", [])]:
        for key in ("facets", "inputFacets", "outputFacets"):
            yield from (ds.get(key) or {}).values()


def validate_event(event: dict[str, Any]) -> None:
    """The event against the spec's RunEvent, and every facet against the schema its
    ``_schemaURL`` names (which must be one we vendored: no facet goes unchecked)."""
    _check(RUN_EVENT, event)
    for facet in _facets(event):
        url = facet["_schemaURL"]
        assert url.split("#")[0] in {r for r in REGISTRY}, f"unvendored facet schema {url}"
        _check(url, facet)


class LineageEndpoint:
    """A real OpenLineage HTTP endpoint (``POST /api/v1/lineage``) on 127.0.0.1."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.arrived = threading.Condition()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with endpoint.arrived:
                    endpoint.events.append(json.loads(body))
                    endpoint.headers.append(dict(self.headers))
                    endpoint.arrived.notify_all()
                self.send_response(201 if self.path == "/api/v1/lineage" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BlackHole:
    """Accepts TCP connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for conn in self.held:
            conn.close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
