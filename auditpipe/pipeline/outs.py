"""Output options, as DVC spells them: ``outs: [path | {path: {persist, cache, remote, push}}]``.

Owns the option model and its parsing from YAML nodes. Defaults are DVC's:
an output is cleared before its stage runs (``persist: false``), its product is
kept in the output cache (``cache: true``), sent to the default remote
(``remote: null``) and pushed (``push: true``). Only options that differ from
the defaults enter a stage's key, so stages written without options keep the
key they always had.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from yaml.nodes import MappingNode

if TYPE_CHECKING:
    from yaml.nodes import Node

    from auditpipe.pipeline.spec import Scope, _Parser

OPTION_FIELDS = ("persist", "cache", "remote", "push")


@dataclass(frozen=True)
class OutOptions:
    """How one output is treated around a run."""

    persist: bool = False
    """Keep the output when the stage re-runs (an append log, a checkpoint dir)."""
    cache: bool = True
    """Store the product in the output cache so it can be restored without a re-run."""
    remote: str | None = None
    """Which remote cache the product goes to (``None``: the default one)."""
    push: bool = True
    """Whether pushing the cache sends this product."""

    @property
    def is_default(self) -> bool:
        return self == DEFAULT

    def changed(self) -> dict[str, Any]:
        """The options that differ from the defaults (what a stage key records)."""
        base = asdict(DEFAULT)
        return {k: v for k, v in asdict(self).items() if base[k] != v}


DEFAULT = OutOptions()


def parse_outs(
    reader: _Parser, node: Node, what: str, scope: Scope
) -> tuple[list[str], dict[str, OutOptions]]:
    """Paths of an ``outs``/``metrics`` list, and the non-default options by path."""
    paths: list[str] = []
    options: dict[str, OutOptions] = {}
    for entry in reader.sequence(node, what):
        if not isinstance(entry, MappingNode):
            paths.append(reader.path(entry, f"{what} entry", scope))
            continue
        items = reader.items(entry, f"{what} entry")
        if len(items) != 1:
            raise reader.fail(
                entry,
                f"each {what} entry with options names one path, not {len(items)}",
                hint=f"write `- path: {{persist: true}}` once per path in {what}",
            )
        _key, key_node, body = items[0]
        path = reader.path(key_node, f"{what} entry", scope)
        paths.append(path)
        found = reader.fields(body, OPTION_FIELDS, f"the options of {what} {path!r}")
        values: dict[str, Any] = {}
        for field, (_field_key, value_node) in found.items():
            value = reader.value(value_node)
            if field == "remote":
                if not isinstance(value, str) or not value:
                    raise reader.fail(value_node, f"remote of {path!r} must be a remote's name")
            elif not isinstance(value, bool):
                raise reader.fail(
                    value_node, f"{field} of {path!r} must be true or false, not {value!r}"
                )
            values[field] = value
        chosen = OutOptions(**values)
        if not chosen.is_default:
            options[path] = chosen
    return paths, options
