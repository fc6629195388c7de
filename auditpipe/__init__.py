"""auditpipe: signed, git-backed lineage and audit evidence for ML pipelines."""

from typing import Any

# The one place the version is written (pyproject.toml reads it from here); a
# literal, because importlib.metadata costs ~35 ms on every CLI start.
__version__ = "0.1.0"

__all__ = ["__version__", "record_stage"]


def __getattr__(name: str) -> Any:
    # Imported lazily so `import auditpipe` stays cheap for the CLI.
    if name == "record_stage":
        from auditpipe.pipeline.api import record_stage

        return record_stage
    raise AttributeError(f"module 'auditpipe' has no attribute {name!r}")
