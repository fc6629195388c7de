"""Load a Great Expectations suite file and check it before any data is read.

A suite is the JSON Great Expectations 1.x itself writes and loads
(``{"name": ..., "expectations": [{"type": ..., "kwargs": {...}, "meta": {}}],
"meta": {...}}``, plus the optional ``id``, ``notes``, ``suite_parameters``,
``severity``, ``description`` GX adds). It is parsed with GX's own
``ExpectationSuiteSchema`` and every expectation is built with GX's own
classes, so a suite auditpipe accepts is one GX accepts, and the reverse.

GX's ``ExpectationSuite`` constructor logs and *drops* an expectation it cannot
build; a gate that silently checks less than its file says would be worse than
none, so each expectation is built here first and any problem is a
:class:`SuiteError` naming the file, the line and the expectation. An empty
suite is refused too: a gate that checks nothing passes everything.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditpipe.errors import SuiteError
from auditpipe.gates.session import gx_session, untyped

# Keys of the Great Expectations 0.x format, for a hint when an old suite is given.
_LEGACY_KEYS = ("expectation_suite_name", "expectation_type", "data_asset_type", "ge_cloud_id")


@dataclass(frozen=True)
class Expectation:
    """One expectation as the suite file states it."""

    index: int
    type: str
    kwargs: Mapping[str, Any]
    line: int | None = None


@dataclass(frozen=True)
class Suite:
    """A checked suite file: its name, digest and expectations."""

    name: str
    display: str
    sha256: str
    expectations: tuple[Expectation, ...]
    document: Mapping[str, Any] = field(repr=False, compare=False)
    """The parsed JSON document, as written."""

    def to_gx(self) -> Any:
        """A fresh ``great_expectations.ExpectationSuite`` of this suite.

        Each expectation gets the id ``UUID(int=index)`` so results map back to
        the suite's own order (GX reorders its results). Call inside
        :func:`gx_session`.
        """
        import uuid

        module = untyped("great_expectations.core.expectation_suite")
        loaded = module.ExpectationSuiteSchema().load(dict(self.document))
        for index, config in enumerate(loaded.get("expectations", [])):
            config.id = str(uuid.UUID(int=index))
        return module.ExpectationSuite(**loaded)


def load_suite(path: Path, display: str) -> Suite:
    """Read and check the suite at ``path`` (shown to users as ``display``)."""
    return suite_from_bytes(_read(path, display), display)


def read_suite(path: Path, display: str) -> bytes:
    """The suite file's bytes, checked as far as needs no GX: it exists, is
    UTF-8 and is a JSON object (:class:`SuiteError` otherwise). Cheap: for
    checks made before Great Expectations has loaded."""
    raw = _read(path, display)
    _parse(_decode(raw, display), display)
    return raw


def suite_from_bytes(raw: bytes, display: str) -> Suite:
    """Check a suite given as the bytes of its file."""
    text = _decode(raw, display)
    document = _parse(text, display)
    with gx_session():
        name, expectations = _check(document, text, display)
    return Suite(
        name=name,
        display=display,
        sha256=hashlib.sha256(raw).hexdigest(),
        expectations=expectations,
        document=document,
    )


def _read(path: Path, display: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise SuiteError(
            "validation suite not found",
            path=display,
            hint="draft one with `auditpipe suite init DATA -o SUITE.json`, or fix the path",
        ) from exc
    except IsADirectoryError as exc:
        raise SuiteError("validation suite is a directory, not a JSON file", path=display) from exc
    except OSError as exc:
        raise SuiteError(
            f"cannot read validation suite: {exc.strerror or exc}", path=display
        ) from exc


def _decode(raw: bytes, display: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SuiteError("suite is not UTF-8 text", path=display, line=line) from exc


def _parse(text: str, display: str) -> dict[str, Any]:
    def refuse_constant(name: str) -> Any:
        raise SuiteError(
            f"{name} is not a JSON number",
            path=display,
            line=_line_of(text, re.compile(r"(?<![\w\"])(-?Infinity|NaN)(?![\w\"])")),
            hint="write a finite number, or drop the bound",
        )

    try:
        document = json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise SuiteError(
            f"suite is not valid JSON: {exc.msg} (column {exc.colno})",
            path=display,
            line=exc.lineno,
            hint="a suite is the JSON Great Expectations writes: "
            '{"name": ..., "expectations": [{"type": ..., "kwargs": {...}}]}',
        ) from exc
    if not isinstance(document, dict):
        raise SuiteError(
            f"suite must be a JSON object, not {type(document).__name__}",
            path=display,
            line=1,
            hint='write {"name": ..., "expectations": [...]}',
        )
    return document


def _check(
    document: dict[str, Any], text: str, display: str
) -> tuple[str, tuple[Expectation, ...]]:
    _check_kwargs(document, text, display)
    schema = untyped("great_expectations.core.expectation_suite").ExpectationSuiteSchema()
    invalid: type[Exception] = untyped("marshmallow").ValidationError
    try:
        loaded = schema.load(document)
    except invalid as exc:
        problems = _flatten(getattr(exc, "messages", {}))
        lines = [_line_of_location(text, where) for where, _message in problems]
        legacy = [k for k in _LEGACY_KEYS if f'"{k}"' in text]
        raise SuiteError(
            "suite is not a Great Expectations suite: "
            + "; ".join(f"{w}: {m}" if w else m for w, m in problems),
            path=display,
            line=next((line for line in lines if line is not None), None),
            hint=(
                "this looks like a Great Expectations 0.x suite "
                f"({', '.join(legacy)}); GX 1.x writes `name` and `type` instead"
                if legacy
                else "compare with a suite written by `auditpipe suite init`"
            ),
        ) from exc
    except Exception as exc:  # GX's loader raises assorted types on shapes it does not expect
        raise SuiteError(
            f"suite is not a Great Expectations suite: {_describe(exc)}",
            path=display,
            hint="compare with a suite written by `auditpipe suite init`",
        ) from exc
    name = loaded.get("name")
    if not isinstance(name, str) or not name:
        raise SuiteError(
            'suite has no "name"', path=display, line=1, hint='add "name": "<suite name>"'
        )
    configs = loaded.get("expectations") or []
    if not configs:
        raise SuiteError(
            "suite has no expectations; a gate that checks nothing passes anything",
            path=display,
            line=_line_of(text, re.compile(r'"expectations"')),
            hint="add expectations, or draft them with `auditpipe suite init DATA -o SUITE.json`",
        )
    seen: dict[str, int] = {}
    expectations = []
    for index, config in enumerate(configs):
        kind = str(config.type)
        seen[kind] = seen.get(kind, 0) + 1
        line = _line_of(
            text, re.compile(r'"type"\s*:\s*' + re.escape(json.dumps(kind))), seen[kind]
        )
        _build(config, index, kind, display, line)
        kwargs = document["expectations"][index].get("kwargs") or {}
        expectations.append(Expectation(index, kind, dict(kwargs), line))
    return name, tuple(expectations)


def _check_kwargs(document: dict[str, Any], text: str, display: str) -> None:
    """GX's loader crashes on an expectation without a ``kwargs`` object; say so first."""
    entries = document.get("expectations")
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and not isinstance(entry.get("kwargs"), dict):
            kind = entry.get("type")
            line = None
            if isinstance(kind, str):
                pattern = re.compile(r'"type"\s*:\s*' + re.escape(json.dumps(kind)))
                line = _line_of(text, pattern)
            raise SuiteError(
                f'expectation {index + 1} ({kind or "no type"}) has no "kwargs" object',
                path=display,
                line=line,
                hint='write "kwargs": {} when the expectation takes no arguments',
            )


def _build(config: Any, index: int, kind: str, display: str, line: int | None) -> None:
    """Build the GX expectation; raise what is wrong with it as a :class:`SuiteError`."""
    errors = untyped("great_expectations.exceptions")
    not_found: type[Exception] = errors.ExpectationNotFoundError
    gx_error: type[Exception] = errors.GreatExpectationsError
    try:
        config.to_domain_obj()
    except not_found as exc:
        registry = untyped("great_expectations.expectations.registry")
        names = registry.list_registered_expectation_implementations()
        close = difflib.get_close_matches(kind, names, 1)
        raise SuiteError(
            f"unknown expectation type {kind!r} (expectation {index + 1})",
            path=display,
            line=line,
            hint=f"did you mean {close[0]!r}?"
            if close
            else "see the expectation gallery of Great Expectations 1.x for the names",
        ) from exc
    except (gx_error, ValueError, TypeError) as exc:
        # pydantic (v1 API, as GX uses it) raises ValueError subclasses.
        raise SuiteError(
            f"invalid arguments for {kind} (expectation {index + 1}): {_describe(exc)}",
            path=display,
            line=line,
            hint="check the expectation's kwargs against its documentation",
        ) from exc


def _describe(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors()
        except Exception:  # not pydantic's errors(); fall back to the message
            items = None
        if isinstance(items, list) and items:
            parts: dict[str, str] = {}
            for item in items:
                loc = ".".join(str(p) for p in item.get("loc", ()) if p != "__root__")
                # a union type reports once per member; the first says enough
                parts.setdefault(loc, f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
            return "; ".join(parts.values())
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested messages as ``(location, message)`` pairs."""
    if isinstance(messages, dict):
        found: list[tuple[str, str]] = []
        for key, inner in messages.items():
            if key == "_schema":
                found.extend(_flatten(inner, prefix))
                continue
            step = f"[{key}]" if isinstance(key, int) else (f".{key}" if prefix else str(key))
            found.extend(_flatten(inner, prefix + step))
        return found
    if isinstance(messages, list):
        return [pair for m in messages for pair in _flatten(m, prefix)]
    return [(prefix, str(messages))]


def _line_of_location(text: str, where: str) -> int | None:
    """The line of the last key named in a location like ``expectations[0].kwargs``."""
    keys = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", where)
    if not keys:
        return None
    return _line_of(text, re.compile(re.escape(json.dumps(keys[-1])) + r"\s*:"))


def _line_of(text: str, pattern: re.Pattern[str], occurrence: int = 1) -> int | None:
    """1-based line of the ``occurrence``-th match of ``pattern``, if there is one."""
    for count, match in enumerate(pattern.finditer(text), start=1):
        if count == occurrence:
            return text.count("\n", 0, match.start()) + 1
    return None
