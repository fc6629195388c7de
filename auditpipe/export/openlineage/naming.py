"""Names in OpenLineage's naming spec: datasets from paths and URLs, jobs from the repository.

Datasets (https://openlineage.io/docs/spec/naming): a local file is namespace
``file`` with its absolute path as name; ``s3://bucket/key`` is namespace
``s3://bucket`` with name ``key`` (likewise ``gs``, ``abfss``, ``wasbs``,
``hdfs``). Jobs: namespace ``$OPENLINEAGE_NAMESPACE``, else the repository's
``origin`` remote (host and path, no credentials), else the repository
folder's name; job name = stage name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from auditpipe.workspace import Workspace

NAMESPACE_ENV = "OPENLINEAGE_NAMESPACE"
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


def dataset(root: Path, name: str) -> tuple[str, str]:
    """(namespace, name) of a stage input or output recorded as ``name``."""
    parts = urlsplit(name)
    scheme = parts.scheme.lower()
    if scheme in ("s3a", "s3n"):
        scheme = "s3"
    if scheme == "file":
        return "file", parts.path
    if len(scheme) > 1 and parts.netloc:
        return f"{scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"
    return "file", (root / name).as_posix()


def repository_url(workspace: Workspace) -> str | None:
    """The ``origin`` remote as an https-style URL without credentials (None if absent)."""
    repo = workspace.open()
    try:
        try:
            raw = repo.get_config().get((b"remote", b"origin"), b"url")
        except KeyError:
            return None
    finally:
        repo.close()
    url = raw.decode("utf-8", "replace").strip()
    scp = _SCP_LIKE.match(url)
    if scp and "://" not in url:
        return f"https://{scp['host']}/{scp['path']}"
    parts = urlsplit(url)
    if not parts.scheme:
        return Path(os.path.abspath(os.path.join(workspace.root, url))).as_uri()
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    scheme = "https" if parts.scheme in ("ssh", "git", "git+ssh") else parts.scheme
    return urlunsplit((scheme, netloc, parts.path, "", ""))


def job_namespace(workspace: Workspace, override: str | None = None) -> str:
    """The namespace this repository's stages are reported under."""
    chosen = override or os.environ.get(NAMESPACE_ENV)
    if chosen:
        return chosen
    url = repository_url(workspace)
    if url and not url.startswith("file:"):
        parts = urlsplit(url)
        path = parts.path.removesuffix(".git").strip("/")
        return f"{parts.netloc}/{path}" if path else parts.netloc
    return workspace.root.name
