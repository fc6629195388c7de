"""Which engine describes tables, named without importing it: part of the table
cache key, so a cached description is reused only by the pyarrow that made it.

Importing pyarrow costs ~0.3 s; its version is read from the installed
distribution's ``pyarrow-<version>.dist-info`` folder beside the package, and
only when that cannot be found is pyarrow imported to ask it.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

# Part of the table cache key: the description's content or computation changed.
CONTENT_ALGORITHM = "auditpipe-content-v1"


@lru_cache(maxsize=1)
def engine_tag() -> str:
    """``pyarrow-<version>``, the same string as ``fingerprint.table.ENGINE``."""
    version = _installed_version("pyarrow")
    if version is None:
        import pyarrow

        version = pyarrow.__version__
    return f"pyarrow-{version}"


def _installed_version(package: str) -> str | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.dirname(next(iter(spec.submodule_search_locations)))
    prefix = f"{package}-"
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return None
    found = [n[len(prefix) : -len(".dist-info")] for n in names if n.endswith(".dist-info")]
    # Two dist-info folders (a botched upgrade) cannot say which one is loaded.
    return found[0] if len(found) == 1 else None
