"""A stage's ``resources:`` and ``retries:``: what it asks of a cluster executor.

``resources: {cpus: 2, gpus: 1, memory: 8GiB, custom: {accelerator_a100: 1}}``
is checked here and kept as plain data; the ``ray`` executor maps it to Ray's
``num_cpus``, ``num_gpus``, ``memory`` and ``resources``. Neither field enters
the stage key: where a command runs is recorded with the run, it does not
change what the stage is.
"""

from __future__ import annotations

import math
import re
from typing import Any

RESOURCE_FIELDS = ("cpus", "gpus", "memory", "custom")
MAX_RETRIES = 100
_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*")


def _amount(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a non-negative number, not {value!r}")
    return float(value)


def parse_size(value: Any) -> int:
    """Bytes from ``8GiB``, ``512MB``, ``1.5G`` or a plain integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"memory must not be negative, not {value}")
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(f"memory {value!r} is not a size like 8GiB, 512MB or 1000000")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_resources(value: Any) -> dict[str, Any]:
    """Checked, normalized resources (memory in bytes); raises ``ValueError`` saying why."""
    if not isinstance(value, dict):
        raise ValueError(f"resources must be a mapping of {', '.join(RESOURCE_FIELDS)}")
    unknown = sorted(set(value) - set(RESOURCE_FIELDS))
    if unknown:
        raise ValueError(
            f"resources has unknown field {unknown[0]!r} (known: {', '.join(RESOURCE_FIELDS)}; "
            "put cluster-specific resources under custom:)"
        )
    out: dict[str, Any] = {}
    for name in ("cpus", "gpus"):
        if value.get(name) is not None:
            out[name] = _amount(value[name], f"resources.{name}")
    if value.get("memory") is not None:
        out["memory"] = parse_size(value["memory"])
    custom = value.get("custom")
    if custom is not None:
        if not isinstance(custom, dict) or not all(isinstance(k, str) for k in custom):
            raise ValueError("resources.custom must be a mapping of resource name to amount")
        out["custom"] = {k: _amount(v, f"resources.custom.{k}") for k, v in sorted(custom.items())}
    return out


def parse_retries(value: Any) -> int:
    """A retry count in 0..100; raises ``ValueError`` saying why."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
        raise ValueError(f"retries must be a whole number from 0 to {MAX_RETRIES}, not {value!r}")
    return value
