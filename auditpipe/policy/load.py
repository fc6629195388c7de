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
from auditpipe.suggest import did_you_mean
from auditpipe.trust.root import TrustRoot

RULE_KINDS = (
    *BUILTIN_RULES,
    "metric",
    "no_regression",
    "cel",
    "witnessed",
    "reproduced",
    "approvals",
)


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    path: Path
    sha256: str
    programs: dict[int, Any]
    """Compiled CEL programs, by rule index."""


def load_policy(path: Path, trust: TrustRoot | None = None) -> LoadedPolicy:
    """Read and compile a policy: from ``trust`` (the bytes its source holds at ``path``,
    a revision's with a trust ref) or, without one, from the file on disk."""
    where = display_path(path)
    if trust is not None:
        where, data = trust.policy_file(path, where)
    else:
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
        if rule["kind"] not in RULE_KINDS:
            raise _unknown_rule(rule["kind"], where, line)
        rules.append({**rule, "line": line})
    try:
        policy = Policy.model_validate({**raw, "rules": rules})
    except ValidationError as exc:
        errors = exc.errors()
        # An unknown key explains the "field required" beside it (a typo), so it goes first.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = list(first["loc"])
        line = _line_at(node, loc) if loc[:1] != ["rules"] else rules[int(loc[1])]["line"]
        field = ".".join(str(p) for p in loc)
        if first["type"] == "extra_forbidden":
            allowed = _fields_at(loc[:-1])
            raise ConfigError(
                f"unknown key {loc[-1]!r} in {'.'.join(map(str, loc[:-1])) or 'the policy'}; "
                f"allowed: {', '.join(allowed)}",
                path=where,
                line=line,
                hint=did_you_mean(str(loc[-1]), allowed),
            ) from None
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{field}: {message}", path=where, line=line) from None
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


def _unknown_rule(kind: str, where: str, line: int) -> ConfigError:
    """An unknown rule name; the policy's top-level keys get told where they belong."""
    if kind in Policy.model_fields and kind != "rules":
        example = {
            "require": "require: {stages: [prepare, train]}",
            "trust": "trust: {keys: [KEYID]}",
            "artifacts": 'artifacts: ["models/model.pkl"]',
        }.get(kind, f"{kind}: ...")
        return ConfigError(
            f"{kind!r} is not a rule: it is a top-level key of the policy",
            path=where,
            line=line,
            hint=f"move it out of `rules:` to the top level, e.g. `{example}`",
        )
    return ConfigError(
        f"unknown rule {kind!r}",
        path=where,
        line=line,
        hint=did_you_mean(kind, RULE_KINDS) or f"use one of {', '.join(RULE_KINDS)}",
    )


def _fields_at(loc: list[Any]) -> list[str]:
    """The keys the policy model accepts at ``loc`` (a pydantic error location)."""
    from pydantic import BaseModel

    model: type[BaseModel] | None = Policy
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            return []
        kinds: list[Any] = [field.annotation, *getattr(field.annotation, "__args__", ())]
        kinds += [a for k in kinds for a in getattr(k, "__args__", ())]
        model = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
    names = list(model.model_fields) if model is not None else []
    return [n for n in names if not (model is Rule and n in ("kind", "line"))]


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
