"""The pipeline file's variables: ``${...}`` over the params file and ``vars:``.

As in dvc.yaml, the params file and each ``vars`` entry (a root-relative file,
``file:key1,key2``, or a mapping) feed ``${name}``; an exact ``${list}`` keeps
its type, so ``foreach: ${models}`` and matrix axes can name params.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from auditpipe.pipeline.dvc.context import Context, ResolveProblem, as_config_error
from auditpipe.pipeline.yamlpos import NodeReader, describe, line_of

EXACT = re.compile(r"\$\{([^{}]*)\}")


class VariablesReader(NodeReader):
    """Loads the variables and resolves whole-value ``${x}``; mixed into the spec's parser."""

    def __init__(self, where: str, root: Path | None = None) -> None:
        super().__init__(where)
        self.root = root
        self.context = Context()  # params and vars, for ${...} outside item/key

    def load_context(self, params_file: str, vars_: tuple[Node, Node] | None) -> None:
        """``${...}`` sees the params file and ``vars:`` (files, root-relative, or mappings)."""
        if self.root is None:
            return
        try:
            if (self.root / params_file).is_file():
                self.context.merge_file(self.root, ".", params_file)
            for i, entry in enumerate(self.sequence(vars_[1], "vars") if vars_ else []):
                value = self.value(entry)
                if isinstance(value, str):
                    self.context.merge_file(self.root, ".", value)
                elif isinstance(value, dict):
                    self.context.merge(value, f"vars[{i}]")
                else:
                    raise self.fail(
                        entry, f"vars entry must be a file or a mapping, not {describe(value)}"
                    )
        except ResolveProblem as problem:
            raise as_config_error(
                problem, self.where, line_of(vars_[0]) if vars_ else 1
            ) from problem

    def typed(self, node: Node) -> Any:
        """A node's value; a string that is exactly ``${x}`` becomes x's value (a list...)."""
        value = self.value(node)
        if isinstance(value, str) and EXACT.fullmatch(value):
            try:
                return self.context.resolve(value, field="foreach")
            except ResolveProblem as problem:
                raise as_config_error(problem, self.where, line_of(node)) from problem
        return value
