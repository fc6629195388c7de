"""Helpers shared by the example's stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

TARGET = "cultivar"


def params(section: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(Path("params.yaml").read_text())
    return loaded[section]


def write_json(path: str, data: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
