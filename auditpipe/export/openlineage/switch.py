"""Whether OpenLineage is switched on, decided without importing its client (a
no-op ``run`` asks before anything heavy loads)."""

from __future__ import annotations

import os
from pathlib import Path


def configured(cwd: Path | None = None) -> bool:
    """Whether the environment configures an OpenLineage client (and does not disable it)."""
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OPENLINEAGE_URL") or os.environ.get("OPENLINEAGE_CONFIG"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") for k in os.environ):
        return True
    files = [(cwd or Path.cwd()) / "openlineage.yml", Path.home() / ".openlineage/openlineage.yml"]
    return any(p.is_file() for p in files)
