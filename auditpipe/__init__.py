"""auditpipe: signed, git-backed lineage and audit evidence for ML pipelines."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("auditpipe")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__", "record_stage"]


def __getattr__(name: str) -> Any:
    # Imported lazily so `import auditpipe` stays cheap for the CLI.
    if name == "record_stage":
        from auditpipe.pipeline.api import record_stage

        return record_stage
    raise AttributeError(f"module 'auditpipe' has no attribute {name!r}")
