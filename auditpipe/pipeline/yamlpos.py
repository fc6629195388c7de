"""Config files with positions: the boundary between PyYAML (and tomllib) and auditpipe.

Owns reading a YAML document as a node tree (so every value keeps its line),
rejecting duplicate keys, resolving ``<<`` merge keys, constructing plain Python
values from nodes with the safe constructor, typed access to nodes
(:class:`NodeReader`: "deps must be a list of strings, not an integer"), and
turning every PyYAML failure into a :class:`~auditpipe.errors.ConfigError` that
names the file and line. Callers never see ``yaml.YAMLError``. Data files
(params: YAML, JSON or TOML) load into JSON-able values with :func:`load_data`.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from auditpipe.errors import ConfigError
from auditpipe.suggest import did_you_mean

MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_VALUES = 1_000_000  # in one data file, counting values reached through aliases


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def decode(data: bytes, *, where: str) -> str:
    """UTF-8 text of a config file (a BOM is dropped); a ConfigError at the bad line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not UTF-8 text", path=where, line=line, hint="save it as UTF-8") from exc


def describe(value: Any) -> str:
    """``a list``, ``an integer``, ``null``...: a value's kind, for messages."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")


def line_of(node: Node) -> int:
    """1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def compose(text: str, *, where: str) -> Node | None:
    """Parse one YAML document into nodes; ``None`` for an empty document.

    Duplicate keys in any mapping are refused, naming both lines.
    """
    try:
        node = _fast_compose(text)
        if node is not None:
            _check_duplicates(node, where, set())
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, where) from exc
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            f"invalid YAML: {exc.reason} (character {_char(exc.character)})",
            path=where,
            line=text.count("\n", 0, exc.position) + 1,
            hint="remove the control or non-printable character",
        ) from exc
    except RecursionError as exc:
        raise ConfigError("invalid YAML: nested too deeply", path=where) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=where) from exc
    return node


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, where: str) -> ConfigError:
    """A YAML syntax error at the line of the construct being parsed.

    PyYAML notices a missing ``:`` or an unclosed quote or bracket only on a later
    line (the problem mark); the construct it was reading (the context mark) is
    where the mistake is. Other contexts (a block mapping's first line, the first
    of two documents) may be far above, so there the problem line is the better guess.
    """
    lines = text.splitlines()
    context, problem = exc.context_mark, exc.problem_mark
    item = ("while scanning", "while parsing a flow")  # one construct, opened at the context
    use_context = context is not None and (exc.context or "").startswith(item)
    mark = context if use_context else (problem or context)
    line = mark.line + 1 if mark is not None else None
    unfinished = _unfinished_key(lines, problem.line) if context is None and problem else None
    line = unfinished or line
    message = f"invalid YAML: {exc.problem or exc.context or 'syntax error'}"
    if use_context and exc.context:
        message += f" ({exc.context})"
    shown = [n for n in (line, problem.line + 1 if problem else None) if n and n <= len(lines)]
    if problem is not None and line is not None and problem.line + 1 != line:
        noticed = problem.line + 1
        source = f": {lines[noticed - 1].strip()}" if noticed <= len(lines) else ""
        message += f"; noticed at line {noticed}{source}"
    return ConfigError(
        message,
        path=where,
        line=line,
        # "[a-${item}]" is the classic trap: '{' is a flow indicator inside [ ].
        hint="quote values containing ${...}: ['model-${item}.pkl']"
        if any("${" in lines[n - 1] for n in shown)
        else "add the ':' after the key on the line shown"
        if unfinished or "expected ':'" in (exc.problem or "")
        else "fix the syntax at the line shown",
    )


def _unfinished_key(lines: list[str], problem: int) -> int | None:
    """The 1-based line of a key missing its ``:``, when the ``:`` PyYAML choked on
    (line ``problem``, 0-based) ends a plain scalar that began on an earlier line."""
    current = lines[problem] if problem < len(lines) else ""
    indent = len(current) - len(current.lstrip(" "))
    for above in range(problem - 1, -1, -1):
        text = lines[above]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        same = len(text) - len(text.lstrip(" ")) == indent
        plain = ":" not in text and not text.lstrip().startswith(("-", "[", "{", '"', "'"))
        return above + 1 if same and plain else None
    return None


def _fast_compose(text: str) -> Node | None:
    """libyaml when present (about 15x faster, same nodes and marks); any failure
    is re-parsed by the pure-Python loader, whose messages the errors above use."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            node: Node | None = yaml.compose(text, Loader=loader)
            return node
        except Exception:
            pass
    slow: Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    return slow


def _char(character: object) -> str:
    return f"U+{character:04X}" if isinstance(character, int) else repr(character)


def _check_duplicates(node: Node, where: str, seen: set[int]) -> None:
    if id(node) in seen:  # aliases share nodes, and may even be recursive
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag != MERGE_TAG:
                if key.value in first:
                    raise ConfigError(
                        f"duplicate key {key.value!r} (first defined at line {first[key.value]})",
                        path=where,
                        line=line_of(key),
                        hint="remove or rename one of the two entries",
                    )
                first[key.value] = line_of(key)
            _check_duplicates(key, where, seen)
            _check_duplicates(value, where, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _check_duplicates(item, where, seen)


def mapping_items(node: MappingNode, *, where: str) -> list[tuple[str, Node, Node]]:
    """``(key text, key node, value node)`` of a mapping, ``<<`` merges applied.

    Keys are taken as written (``on:`` is the key ``"on"``, not ``True``), so
    messages quote what the user typed. Own keys win over merged ones, and earlier
    merge sources over later ones, as the YAML merge-key spec says.
    """
    return _items(node, where, frozenset())


def _items(node: MappingNode, where: str, merging: frozenset[int]) -> list[tuple[str, Node, Node]]:
    merging = merging | {id(node)}
    own: list[tuple[str, Node, Node]] = []
    merged: list[tuple[str, Node, Node]] = []
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, MappingNode) or id(source) in merging:
                    raise ConfigError(
                        "a '<<' merge key needs a mapping (or a list of mappings)",
                        path=where,
                        line=line_of(source),
                    )
                merged.extend(_items(source, where, merging))
        elif isinstance(key, ScalarNode):
            own.append((str(key.value), key, value))
        else:
            raise ConfigError(
                "mapping keys must be plain strings, not lists or mappings",
                path=where,
                line=line_of(key),
            )
    taken = {text for text, _, _ in own}
    result = list(own)
    for item in merged:
        if item[0] not in taken:
            taken.add(item[0])
            result.append(item)
    return result


def construct(node: Node, *, where: str) -> Any:
    """The plain Python value of ``node`` (safe tags only)."""
    try:
        return SafeConstructor().construct_document(node)
    # Any failure to build a value from a node (a bad ``!!int``, an unknown tag,
    # an unhashable key) is bad input at that node, never a crash.
    except Exception as exc:
        raise ConfigError(
            f"invalid value: {getattr(exc, 'problem', None) or exc}",
            path=where,
            line=line_of(node),
        ) from exc


def load_data(data: bytes, *, where: str, toml: bool = False) -> Any:
    """A YAML (so also JSON) or TOML document as JSON-able values.

    Duplicate keys are refused; dates and times become ISO 8601 strings and
    mapping keys strings, so the result can be hashed and signed as JSON.
    """
    text = decode(data, where=where)
    if toml:
        try:
            return _jsonable(tomllib.loads(text), [MAX_VALUES], where)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
            raise ConfigError(f"invalid TOML: {exc}", path=where, line=line) from exc
    node = compose(text, where=where)
    try:
        return (
            None if node is None else _jsonable(construct(node, where=where), [MAX_VALUES], where)
        )
    except RecursionError as exc:
        raise ConfigError("a value refers to itself (recursive alias)", path=where) from exc


def _jsonable(value: Any, budget: list[int], where: str) -> Any:
    # Aliases share values; copying them out as a tree can explode ("billion laughs").
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(f"more than {MAX_VALUES} values (aliases expanded)", path=where)
    if isinstance(value, dict):
        return {str(k): _jsonable(v, budget, where) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v, budget, where) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def is_null(node: Node) -> bool:
    """True for an explicit ``null`` / ``~`` / empty value."""
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


class NodeReader:
    """Typed access to the nodes of one file; every error points at a node's line."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, node: Node, message: str, hint: str | None = None) -> ConfigError:
        """A ConfigError located at ``node`` (raise it)."""
        return ConfigError(message, path=self.where, line=line_of(node), hint=hint)

    def value(self, node: Node) -> Any:
        return construct(node, where=self.where)

    def kind(self, node: Node) -> str:
        if isinstance(node, MappingNode):
            return "a mapping"
        return "a list" if isinstance(node, SequenceNode) else describe(self.value(node))

    def items(self, node: Node, what: str) -> list[tuple[str, Node, Node]]:
        """``(key, key node, value node)`` of a mapping node, else a ConfigError."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping, not {self.kind(node)}")
        return mapping_items(node, where=self.where)

    def fields(self, node: Node, allowed: Sequence[str], what: str) -> dict[str, tuple[Node, Node]]:
        """``{key: (key node, value node)}``, refusing keys not in ``allowed``.

        An explicit ``null`` value counts as absent.
        """
        found: dict[str, tuple[Node, Node]] = {}
        for key, key_node, value_node in self.items(node, what):
            if key not in allowed:
                raise self.fail(
                    key_node,
                    f"unknown key {key!r} in {what}; allowed: {', '.join(allowed)}",
                    hint=did_you_mean(key, allowed),
                )
            if not is_null(value_node):
                found[key] = (key_node, value_node)
        return found

    def string(self, node: Node, what: str) -> str:
        value = None if isinstance(node, MappingNode | SequenceNode) else self.value(node)
        if not isinstance(value, str):
            raise self.fail(node, f"{what} must be a string, not {self.kind(node)}")
        return value

    def sequence(self, node: Node, what: str) -> list[Node]:
        """The entries of a list node, else a ConfigError with an example."""
        if not isinstance(node, SequenceNode):
            raise self.fail(
                node,
                f"{what} must be a list of strings, not {self.kind(node)}",
                hint=f"write `{what}: [a, b]`",
            )
        return list(node.value)
