"""Why a CEL rule said false: the values its expression compared, read from the facts."""

from __future__ import annotations

import json
import re
from typing import Any

_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_PATH = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b")
_MISSING = object()


def compared_values(expr: str, facts: dict[str, Any], limit: int = 6) -> str:
    """``stages.evaluate.metrics.rows = 3; ...`` for each fact path the expression reads."""
    shown: list[str] = []
    for path in dict.fromkeys(_PATH.findall(_STRING.sub("''", expr))):
        value = _lookup(facts, path.split("."))
        if value is _MISSING:  # e.g. `x.size()`: the path without the method name
            parent = _lookup(facts, path.split(".")[:-1])
            if parent is not _MISSING and not isinstance(parent, dict):
                value, path = parent, path.rsplit(".", 1)[0]
        if value is _MISSING:
            if path.split(".")[0] in facts:
                shown.append(f"{path} is absent")
            continue
        shown.append(f"{path} = {_text(value)}")
        if len(shown) == limit:
            break
    return "; ".join(shown)


def _lookup(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def _text(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
