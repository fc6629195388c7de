"""Read a policy file: YAML with positions, the model, and every CEL rule compiled.

Every mistake is a ``ConfigError`` naming the file and line (and, for a CEL
syntax error, the column inside the expression). An empty policy is an error,
not a pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, SequenceNode

from auditpipe.errors import ConfigError
from auditpipe.pipeline.yamlpos import compose, construct, decode, display_path, line_of
from auditpipe.policy.model import BUILTIN_RULES, Policy, Rule, rule_from


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    path: Path
    sha256: str
    programs: dict[int, Any]
    """Compiled CEL programs, by rule index."""


def load_policy(path: Path) -> LoadedPolicy:
    where = display_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "policy file not found",
            path=where,
            hint="start from policies/default.yaml (`auditpipe init` writes it)",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read policy file: {exc.strerror}", path=where) from exc
    node = compose(decode(data, where=where), where=where)
    if node is None:
        raise ConfigError(
            "the policy is empty",
            path=where,
            line=1,
            hint="an empty policy would allow anything; add rules",
        )
    raw = construct(node, where=where)
    if not isinstance(raw, dict):
        raise ConfigError("a policy is a mapping", path=where, line=line_of(node))
    rules_node = _child(node, "rules")
    rules: list[dict[str, Any]] = []
    for index, value in enumerate(raw.get("rules") or []):
        line = _line_at(rules_node, [index]) if rules_node is not None else line_of(node)
        try:
            rule = rule_from(value)
        except ValueError as exc:
            raise ConfigError(str(exc), path=where, line=line) from None
        if rule["kind"] not in (*BUILTIN_RULES, "metric", "no_regression", "cel", "approvals"):
            raise ConfigError(
                f"unknown rule {rule['kind']!r}",
                path=where,
                line=line,
                hint=f"use one of {', '.join(BUILTIN_RULES)}, "
                "metric, no_regression, cel, approvals",
            )
        rules.append({**rule, "line": line})
    try:
        policy = Policy.model_validate({**raw, "rules": rules})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = list(first["loc"])
        line = _line_at(node, loc) if loc[:1] != ["rules"] else rules[int(loc[1])]["line"]
        field = ".".join(str(p) for p in loc)
        raise ConfigError(f"{field}: {first['msg']}", path=where, line=line) from None
    if not policy.rules and not policy.require.stages:
        raise ConfigError(
            "the policy has no rules and requires nothing",
            path=where,
            line=line_of(node),
            hint="an empty policy would allow anything; add rules",
        )
    programs = {i: compile_cel(r, where) for i, r in enumerate(policy.rules) if r.cel}
    return LoadedPolicy(policy, path, hashlib.sha256(data).hexdigest(), programs)


def compile_cel(rule: Rule, where: str) -> Any:
    import celpy
    from celpy.celparser import CELParseError

    assert rule.cel is not None
    env = celpy.Environment()
    try:
        return env.program(env.compile(rule.cel.expr))
    except CELParseError as exc:
        column = getattr(exc, "column", None)
        at = f" at column {column}" if column else ""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise ConfigError(
            f"CEL syntax error in rule {rule.cel.name!r}{at}: {first}",
            path=where,
            line=rule.line,
            hint="see https://github.com/google/cel-spec for the syntax",
        ) from None


def _child(node: Node, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                child: Node = v
                return child
    return None


def _line_at(node: Node, loc: list[Any]) -> int:
    """The line of the deepest node ``loc`` reaches (for pydantic error locations)."""
    current = node
    for part in loc:
        if isinstance(current, MappingNode):
            found = None
            for k, v in current.value:
                if getattr(k, "value", None) == str(part):
                    found = k if part == loc[-1] else v
                    break
            if found is None:
                break
            current = found
        elif (
            isinstance(current, SequenceNode)
            and isinstance(part, int)
            and part < len(current.value)
        ):
            current = current.value[part]
        else:
            break
    return line_of(current)
