"""The variables of a dvc.yaml and ``${}`` interpolation, with DVC's resolution rules.

- The context starts with ``params.yaml`` beside the dvc.yaml (when it exists),
  then each ``vars`` entry in order: a file (``file.yaml``, ``file.yaml:a,b``
  to take some keys) or an inline mapping; a stage's own ``vars`` are read
  relative to its ``wdir`` and seen by that stage only. Redefining a value is
  an error (mappings merge key by key), as in DVC.
- A string that is exactly one ``${expr}`` takes the value's own type (a list
  for ``foreach``, a number for a param); inside a longer string only scalars
  interpolate (booleans as ``true``/``false``), except in ``cmd`` where a
  mapping becomes ``--key value`` arguments. ``\\${x}`` stays literal.
- ``expr`` is dotted (``train.lr``) with ``[index]`` for lists (``layers[0]``).
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditpipe.errors import ConfigError
from auditpipe.pipeline.paramfile import read_params_file

KEYCRE = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")
EXPRESSION = re.compile(r"\s*[^.\[\]\s]+(\.[^.\[\]\s]+|\[[^.\[\]\s]+\])*\s*")
PRIMITIVES = (str, int, float, bool)


class ResolveProblem(Exception):
    """Something in one value cannot be resolved; the reader adds file and line."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Context:
    """Values visible to ``${}``, with the files they came from."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.imports: dict[str, tuple[str, ...] | None] = {}
        self.sources: dict[str, str] = {}  # top-level key -> where it was defined

    def clone(self) -> Context:
        other = Context()
        other.data = copy.deepcopy(self.data)
        other.imports = dict(self.imports)
        other.sources = dict(self.sources)
        return other

    def merge_file(self, root: Path, base: str, entry: str) -> None:
        """Merge ``file[:key,key]`` (relative to repo-relative ``base``)."""
        name, _, keys_text = entry.partition(":")
        rel = _join(base, name)
        keys = tuple(k for k in keys_text.split(",") if k) or None
        if rel in self.imports:
            if keys is None and self.imports[rel] is None:
                return  # naming a whole file twice is allowed
            raise ResolveProblem(f"vars file {rel} is loaded twice", hint="name it once in vars")
        path = root / rel
        if not path.is_file():
            raise ResolveProblem(
                f"vars file {rel} does not exist",
                hint=f"create {rel} or remove it from vars (relative to the dvc.yaml or wdir)",
            )
        data = read_params_file(path)
        if keys is not None:
            picked: dict[str, Any] = {}
            for key in keys:
                found, value = _select(data, key)
                if not found:
                    raise ResolveProblem(f"vars: no {key!r} in {rel}")
                picked[key] = value
            data = picked
        self.imports[rel] = keys
        self.merge(data, rel)

    def merge(self, data: Mapping[str, Any], source: str) -> None:
        _merge(self.data, data, source, self.sources, ())

    def select(self, expr: str) -> Any:
        if not EXPRESSION.fullmatch(expr):
            raise ResolveProblem(
                f"${{{expr}}} is not a valid expression",
                hint="write ${name}, ${section.key} or ${list[0]}",
            )
        key = expr.strip().replace("[", ".").replace("]", "")
        found, value = _select(self.data, key)
        if not found:
            known = ", ".join(sorted(self.data)[:12]) or "none"
            raise ResolveProblem(
                f"${{{expr.strip()}}} does not resolve: no {key!r} in params.yaml, vars "
                f"or the expansion (top-level names: {known})",
                hint="add it to params.yaml or vars, or write \\${...} for a literal",
            )
        return value

    def resolve(self, value: str, *, field: str) -> Any:
        """``value`` with its ``${}`` replaced; an exact ``${x}`` keeps x's type."""
        matches = list(KEYCRE.finditer(value))
        if not matches:
            return value.replace("\\${", "${")
        if len(matches) == 1 and matches[0].group(0) == value:
            return copy.deepcopy(self.select(matches[0].group("inner")))
        out, index = "", 0
        for match in matches:
            found = self.select(match.group("inner"))
            out += value[index : match.start()] + _to_str(found, match.group(0), field)
            index = match.end()
        return (out + value[index:]).replace("\\${", "${")


def _join(base: str, name: str) -> str:
    import posixpath

    from auditpipe.pipeline.dag import normalize_path

    try:
        return normalize_path(posixpath.join(base, name) if base != "." else name)
    except ValueError as exc:
        raise ResolveProblem(f"path {name!r} {exc}") from exc


def _select(data: Any, key: str) -> tuple[bool, Any]:
    if isinstance(data, Mapping) and key in data:
        return True, data[key]
    head, dot, rest = key.partition(".")
    if not dot:
        if isinstance(data, list) and key.isdigit() and int(key) < len(data):
            return True, data[int(key)]
        return False, None
    if isinstance(data, Mapping) and head in data:
        return _select(data[head], rest)
    if isinstance(data, list) and head.isdigit() and int(head) < len(data):
        return _select(data[int(head)], rest)
    return False, None


def _merge(
    into: dict[str, Any],
    update: Mapping[str, Any],
    source: str,
    sources: dict[str, str],
    prefix: tuple[str, ...],
) -> None:
    for key, value in update.items():
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            _merge(old, value, source, sources, (*prefix, key))
            continue
        if key in into:
            name = ".".join((*prefix, key))
            first = sources.get(prefix[0] if prefix else key, "an earlier source")
            raise ResolveProblem(
                f"cannot redefine {name!r} from {source}: already defined in {first}",
                hint="rename one of them; DVC does not let vars overwrite each other",
            )
        into[key] = copy.deepcopy(value)
        if not prefix:
            sources[key] = source


def _to_str(value: Any, text: str, field: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and field == "cmd":
        return _as_arguments(value)
    if value is None or isinstance(value, PRIMITIVES):
        return str(value)
    raise ResolveProblem(
        f"{text} is {type(value).__name__}, which cannot be interpolated into a string",
        hint="use the whole value alone (`key: ${x}`) or pick one entry (${x.key}, ${x[0]})",
    )


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _as_arguments(data: Mapping[str, Any]) -> str:
    """A mapping in ``cmd`` as DVC renders it: ``--key value``, flags for true."""
    parts: list[str] = []
    for key, value in _flatten(data).items():
        if isinstance(value, bool):
            if value:
                parts.append(f"--{key}")
        elif isinstance(value, str):
            parts.append(f"--{key} {shlex.quote(value)}")
        elif isinstance(value, list):
            items = []
            for item in value:
                if isinstance(item, list | dict):
                    raise ResolveProblem(f"cannot interpolate nested list in {key!r}")
                items.append(shlex.quote(item) if isinstance(item, str) else str(item))
            parts.append(" ".join([f"--{key}", *items]))
        else:
            parts.append(f"--{key} {value}")
    return " ".join(parts)


def as_config_error(problem: ResolveProblem, where: str, line: int | None) -> ConfigError:
    return ConfigError(problem.message, path=where, line=line, hint=problem.hint)
