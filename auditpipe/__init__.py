"""auditpipe: signed, git-backed lineage and audit evidence for ML pipelines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("auditpipe")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
