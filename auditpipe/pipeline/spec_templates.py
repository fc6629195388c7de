"""The pipeline file's templates: ``foreach``/``matrix`` stages expanded into ``name@suffix``.

``foreach: [a, b]`` expands to ``name@a``, ``name@b`` (``name@0``, ``name@1``
when items are lists or mappings) with ``${item}``; ``foreach: {k: v}`` to
``name@k`` with ``${key}`` and ``${item}``; ``matrix: {x: [1, 2], y: [a]}`` to
``name@1-a``, ``name@2-a`` with ``${item.x}``. The template goes under ``do:``,
or, for ``matrix`` as in DVC, beside it. Stage names (and so the suffixes) use
letters, digits, ``_``, ``.`` and ``-``; ``@`` is reserved for expansions.
"""

from __future__ import annotations

import datetime
import itertools
import math
import re
from typing import Any

from yaml.nodes import MappingNode, Node

from auditpipe.pipeline.spec_vars import VariablesReader
from auditpipe.pipeline.stage import StageSpec
from auditpipe.pipeline.yamlpos import describe

TEMPLATE_FIELDS = ("foreach", "matrix", "do")
MAX_EXPANSIONS = 10_000
NAME = re.compile(r"[A-Za-z0-9_.-]+")
Scalar = str | int | float | bool | datetime.date
Scope = dict[str, Any] | None  # the variables of one expansion; None outside templates


def render(value: Scalar) -> str:
    """A scalar as it reads in a name or an interpolated string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _suffix(value: Any, fallback: str) -> str:
    """The name suffix of one expansion: the value itself when it is a scalar."""
    return render(value) if isinstance(value, Scalar) else fallback


class TemplateExpander(VariablesReader):
    """Checks stage names and expands templates; mixed into the spec's parser."""

    stage_fields: tuple[str, ...]
    """The fields of one stage (set by the parser): refused beside ``foreach``/``do``."""

    def stage(self, name: str, key: Node, body: Node, scope: Scope) -> StageSpec:
        """One stage read from ``body`` with the variables in ``scope`` (the parser's)."""
        raise NotImplementedError

    def check_name(self, name: str, node: Node) -> None:
        if not name:
            raise self.fail(node, "stage name is empty")
        if not NAME.fullmatch(name):
            extra = "; '@' is reserved for foreach/matrix expansions" if "@" in name else ""
            raise self.fail(
                node, f"stage name {name!r} may only use letters, digits, '_', '.' and '-'{extra}"
            )

    def stage_or_template(self, name: str, key: Node, body: Node) -> list[StageSpec]:
        keys = {k for k, _, _ in self.items(body, f"stage {name!r}")}
        if not keys & set(TEMPLATE_FIELDS):
            return [self.stage(name, key, body, None)]
        fields = self.fields(body, (*TEMPLATE_FIELDS, *self.stage_fields), f"stage {name!r}")
        if "matrix" in fields and "do" not in fields and "foreach" not in fields:
            # DVC's form: the stage's fields beside ``matrix:``, no ``do:``.
            expansions = self.expansions(name, "matrix", fields["matrix"][1])
            return [self.stage(f"{name}@{suffix}", key, body, s) for suffix, s in expansions]
        for field, (field_key, _) in fields.items():
            if field in self.stage_fields:
                raise self.fail(field_key, f"{field!r} of stage {name!r} belongs under 'do:'")
        if "foreach" in fields and "matrix" in fields:
            raise self.fail(fields["matrix"][0], f"stage {name!r} has both foreach and matrix")
        if "do" not in fields:
            raise self.fail(key, f"stage {name!r} has no 'do:' template for its expansions")
        if "foreach" not in fields and "matrix" not in fields:
            raise self.fail(fields["do"][0], f"'do:' of stage {name!r} needs foreach or matrix")
        loop = "foreach" if "foreach" in fields else "matrix"
        expansions = self.expansions(name, loop, fields[loop][1])
        return [self.stage(f"{name}@{suffix}", key, fields["do"][1], s) for suffix, s in expansions]

    def expansions(self, name: str, loop: str, node: Node) -> list[tuple[str, dict[str, Any]]]:
        value = self.typed(node)
        if loop == "matrix" and isinstance(node, MappingNode):
            value = {k: self.typed(v) for k, _, v in self.items(node, "matrix")}
        if loop == "matrix" and not isinstance(value, dict):
            raise self.fail(node, f"matrix must be a mapping of lists, not {describe(value)}")
        if not isinstance(value, list | dict):
            raise self.fail(node, f"foreach must be a list or a mapping, not {describe(value)}")
        if not value:
            raise self.fail(node, f"{loop} of stage {name!r} is empty")
        if isinstance(value, list):
            found = [(_suffix(v, str(i)), {"item": v}) for i, v in enumerate(value)]
        elif loop == "foreach":
            found = [(render(k), {"key": k, "item": v}) for k, v in value.items()]
        else:
            for axis, options in value.items():
                if not isinstance(options, list) or not options:
                    raise self.fail(node, f"matrix axis {axis!r} must be a non-empty list")
            if math.prod(len(v) for v in value.values()) > MAX_EXPANSIONS:
                raise self.fail(node, f"matrix of stage {name!r} has over {MAX_EXPANSIONS} entries")
            axes = [
                [(k, _suffix(v, f"{k}{i}"), v) for i, v in enumerate(vs)] for k, vs in value.items()
            ]
            found = [
                ("-".join(s for _, s, _ in combo), {"item": {k: v for k, _, v in combo}})
                for combo in itertools.product(*axes)
            ]
        if len(found) > MAX_EXPANSIONS:
            raise self.fail(node, f"{loop} of stage {name!r} has over {MAX_EXPANSIONS} entries")
        for suffix, _ in found:
            if not NAME.fullmatch(suffix):
                raise self.fail(
                    node,
                    f"expansion name {name + '@' + suffix!r} may only use letters, digits, "
                    "'_', '.' and '-' after the '@'",
                    hint="use a foreach mapping to choose the names: {short-name: value}",
                )
        return found
