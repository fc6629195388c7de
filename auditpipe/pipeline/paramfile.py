"""Reading one params file of any kind DVC reads: YAML, JSON, TOML or Python.

A ``.py`` file is read, never run: its module-level assignments of literal
values (``EPOCHS = 10``) and the literal attributes of its classes
(``class Train: lr = 0.1`` -> ``Train.lr``) are the params, as in DVC.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from auditpipe.errors import ConfigError
from auditpipe.faults import describe as describe_fault
from auditpipe.pipeline.yamlpos import decode, describe, display_path, load_data

SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".py")


def read_params_file(path: Path, *, missing_hint: str | None = None) -> dict[str, Any]:
    """The params in ``path`` as JSON-able data; a ConfigError when absent or malformed."""
    where = display_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            "params file not found", path=where, hint=missing_hint or f"create {path.name}"
        ) from exc
    except OSError as exc:
        what, hint = describe_fault(exc)
        raise ConfigError(f"cannot read the params file: {what}", path=where, hint=hint) from exc
    if path.suffix == ".py":
        return _python_params(decode(data, where=where), where)
    value = load_data(data, where=where, toml=path.suffix == ".toml")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"params must be a mapping, not {describe(value)}", path=where, line=1)
    return value


def _python_params(text: str, where: str) -> dict[str, Any]:
    try:
        tree = ast.parse(text, filename=where)
    except SyntaxError as exc:
        raise ConfigError(f"invalid Python: {exc.msg}", path=where, line=exc.lineno) from exc
    return _assignments(tree.body)


def _assignments(body: list[ast.stmt]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for statement in body:
        if isinstance(statement, ast.ClassDef):
            found[statement.name] = _assignments(statement.body)
            continue
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue  # computed values are not params (DVC skips them too)
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = _plain(literal)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
