"""The pipeline spec: ``auditpipe.yaml`` parsed into validated, expanded stages.

Owns the file format and every check that can be made without running anything;
each problem is a :class:`ConfigError` naming the file and line. Choices made:

- Paths (``deps``, ``outs``, ``metrics``, ``validate``, ``wdir``, ``params:``)
  are relative to the repository root, never to ``wdir``, so an auditor reads a
  stage without resolving directories; ``wdir`` only sets where ``cmd`` runs.
  They are normalized lexically to POSIX (``./a/../b`` -> ``b``, ``\\`` -> ``/``,
  no trailing ``/``); absolute paths, ``..`` above the root and ``.git/`` are refused.
- ``cmd`` is a string, or a list of strings run in sequence and stopping at the
  first failure: the list is stored joined with ``" && "`` (commands run in a shell).
- ``foreach: [a, b]`` expands to ``name@a``, ``name@b`` (``name@0``, ``name@1``
  when items are lists or mappings); ``foreach: {k: v}`` to ``name@k`` with
  ``${key}`` and ``${item}``; ``matrix: {x: [1, 2], y: [a]}`` to ``name@1-a``,
  ``name@2-a`` with ``${item.x}``. Templates go under ``do:``.
- ``${...}`` is interpolated in every string field but ``env``: ``item``
  (``${item.field}``, ``${item.0}``) and ``key`` inside expansions, then params.
  ``\\${X}`` (or ``$X``) leaves a literal ``${X}`` for the shell.
- ``null`` for an optional field means the field is absent.
- ``outs`` and ``metrics`` entries are a path or ``{path: {persist, cache,
  remote, push}}`` as in DVC (see ``auditpipe.pipeline.outs``).
- As in dvc.yaml: ``${name}`` also reads the params file and ``vars:`` (files,
  root-relative, or mappings); ``foreach: ${list}`` and matrix axes may name
  params; ``matrix:`` may sit beside the stage's fields (no ``do:``);
  ``frozen`` and ``always_changed`` mean what they mean in DVC.
- The parsed values (``StageSpec``, ``PipelineSpec``) live in ``auditpipe.pipeline.stage``;
  template expansion and stage names in ``auditpipe.pipeline.spec_templates``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from yaml.nodes import Node, SequenceNode

from auditpipe.errors import ConfigError
from auditpipe.faults import describe as describe_fault
from auditpipe.pipeline.artifacts import ModelCard, parse_cards
from auditpipe.pipeline.dag import build_dag, is_within, normalize_path
from auditpipe.pipeline.dvc.context import ResolveProblem
from auditpipe.pipeline.outs import OutOptions, parse_outs
from auditpipe.pipeline.remotes import Remotes, parse_remotes
from auditpipe.pipeline.resources import parse_resources, parse_retries
from auditpipe.pipeline.spec_env import SecretFieldsReader
from auditpipe.pipeline.spec_templates import Scalar, Scope, TemplateExpander, render
from auditpipe.pipeline.stage import PipelineSpec, StageSpec
from auditpipe.pipeline.yamlpos import (
    compose,
    decode,
    describe,
    display_path,
    is_null,
    line_of,
)

PIPELINE_FILE = "auditpipe.yaml"
DEFAULT_PARAMS_FILE = "params.yaml"
TOP_FIELDS = ("params", "signer", "vars", "stages", "secrets", "artifacts", "executor", "cache")
EXECUTORS = ("local", "ray")
STAGE_FIELDS = (
    *("cmd", "deps", "outs", "metrics", "params", "validate", "wdir", "env", "content", "desc"),
    *("frozen", "always_changed", "resources", "retries"),
)
SIGNERS = ("local", "sigstore", "auto")
PARAM_KEY = re.compile(r"[^.\s]+(\.[^.\s]+)*")
VARIABLE = re.compile(r"(\\?)\$\{([^{}]*)\}")
NO_VARIABLES: dict[str, Any] = {}  # the scope of fields where ${...} is never interpolated


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class _Parser(TemplateExpander, SecretFieldsReader):
    """Reads ``auditpipe.yaml`` nodes into stages, expanding templates."""

    cards: dict[str, ModelCard]
    remotes: Remotes | None = None
    stage_fields = STAGE_FIELDS

    # -- scalars and lists ----------------------------------------------------

    def text(self, node: Node, what: str, scope: Scope) -> str:
        return self.interpolate(self.string(node, what), node, scope)

    def texts(self, node: Node, what: str, scope: Scope) -> list[str]:
        return [self.text(n, f"each entry of {what}", scope) for n in self.sequence(node, what)]

    def checked(
        self, node: Node | None, what: str, scope: Scope, pattern: re.Pattern[str], kind: str
    ) -> list[str]:
        """A list of strings, each matching ``pattern``."""
        if node is None:
            return []
        values = self.texts(node, what, scope)
        for value, entry in zip(values, self.sequence(node, what), strict=True):
            if not pattern.fullmatch(value):
                raise self.fail(entry, f"{what} entry {value!r} is not {kind}")
        return values

    def path(self, node: Node, what: str, scope: Scope, *, root_ok: bool = False) -> str:
        raw = self.text(node, what, scope)
        try:
            norm = normalize_path(raw)
        except ValueError as exc:
            raise self.fail(node, f"{what} {raw!r} {exc}", hint="use a repo-relative path") from exc
        if norm == "." and not root_ok:
            raise self.fail(
                node, f"{what} {raw!r} is the repository root; name a file or directory"
            )
        return norm

    def paths(self, node: Node, what: str, scope: Scope) -> list[str]:
        return [self.path(n, f"{what} entry", scope) for n in self.sequence(node, what)]

    def interpolate(self, text: str, node: Node, scope: Scope) -> str:
        def substitute(match: re.Match[str]) -> str:
            if match.group(1):  # an escaped \${...} stays literal, minus the backslash
                return match.group(0)[1:]
            return render(self.lookup(match.group(2).strip(), node, scope))

        return VARIABLE.sub(substitute, text)

    def lookup(self, name: str, node: Node, scope: Scope) -> Scalar:
        head, *rest = name.split(".")
        if (scope is None or head not in scope) and scope is not NO_VARIABLES:
            try:  # params and vars, as in dvc.yaml
                found = self.context.select(name)
            except ResolveProblem:
                found = None
            if isinstance(found, Scalar):
                return found
            if found is not None:
                raise self.fail(node, f"${{{name}}} is {describe(found)}, not a string or number")
        if scope is None or head not in scope:
            known = ", ".join("${" + v + "}" for v in scope or ())
            why = f"available here: {known}" if known else "no foreach/matrix variables here"
            raise self.fail(
                node,
                f"${{{name}}} does not resolve ({why})",
                hint="write \\${...} or $VAR to pass a literal shell variable",
            )
        value = scope[head]
        for i, part in enumerate(rest):
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                where = ".".join([head, *rest[:i]])
                raise self.fail(node, f"${{{name}}} does not resolve: no {part!r} in ${{{where}}}")
        if not isinstance(value, Scalar):
            raise self.fail(node, f"${{{name}}} is {describe(value)}, not a string or number")
        return value

    # -- the file and its stages (templates: spec_templates) ----------------------

    def parse(
        self, text: str
    ) -> tuple[str, str | None, dict[str, StageSpec], list[str], str | None]:
        root = compose(text, where=self.where)
        if root is None or is_null(root):
            raise ConfigError(
                "the pipeline file is empty",
                path=self.where,
                hint="declare `stages:` (run `auditpipe init` for a starter file)",
            )
        top = self.fields(root, TOP_FIELDS, "the top level")
        params_file = DEFAULT_PARAMS_FILE
        if "params" in top:
            params_file = self.path(top["params"][1], "params file", NO_VARIABLES)
        self.load_context(params_file, top.get("vars"))
        signer = None
        if "signer" in top:
            signer = self.string(top["signer"][1], "signer")
            if signer not in SIGNERS:
                raise self.fail(top["signer"][1], f"signer must be one of {', '.join(SIGNERS)}")
        executor = self.string(top["executor"][1], "executor") if "executor" in top else None
        if executor is not None and executor not in EXECUTORS:
            raise self.fail(top["executor"][1], f"executor must be one of {', '.join(EXECUTORS)}")
        stages: dict[str, StageSpec] = {}
        if "stages" in top:
            for name, key_node, body in self.items(top["stages"][1], "stages"):
                self.check_name(name, key_node)
                for stage in self.stage_or_template(name, key_node, body):
                    if stage.name in stages:
                        raise self.fail(key_node, f"expanding {name!r} yields {stage.name!r} twice")
                    stages[stage.name] = stage
        allow = self.secrets_allow(top["secrets"][1]) if "secrets" in top else []
        if "cache" in top:
            self.remotes = parse_remotes(self, top["cache"][1])
        cards = top.get("artifacts")
        self.cards = (
            parse_cards(self, cards[1], lambda n, w: self.path(n, w, None)) if cards else {}
        )
        return params_file, signer, stages, allow, executor

    def stage(self, name: str, key: Node, body: Node, scope: Scope) -> StageSpec:
        what = f"stage {name!r}"
        fields = self.fields(body, (*STAGE_FIELDS, "matrix"), what)
        node = {field: value for field, (_, value) in fields.items() if field != "matrix"}
        if "cmd" not in node:
            raise self.fail(key, f"{what} has no 'cmd'", hint="add `cmd: <command to run>`")
        if isinstance(node["cmd"], SequenceNode):
            parts = self.texts(node["cmd"], "cmd", scope)
        else:
            parts = [self.text(node["cmd"], "cmd", scope)]
        if not parts or not all(p.strip() for p in parts):
            raise self.fail(node["cmd"], f"cmd of {what} is empty")
        deps = self.paths(node["deps"], "deps", scope) if "deps" in node else []
        options: dict[str, OutOptions] = {}
        outs: list[str] = []
        metrics: list[str] = []
        if "outs" in node:
            outs, found = parse_outs(self, node["outs"], "outs", scope)
            options.update(found)
        if "metrics" in node:
            metrics, found = parse_outs(self, node["metrics"], "metrics", scope)
            options.update(found)
        params = self.checked(node.get("params"), "params", scope, PARAM_KEY, "a dotted key")
        env, env_public, env_secret = self.env(node.get("env"))
        content = self.value(node["content"]) if "content" in node else False
        if not isinstance(content, bool):
            raise self.fail(node["content"], f"content must be true or false, not {content!r}")
        return StageSpec(
            name=name,
            cmd=" && ".join(parts),
            wdir=self.path(node["wdir"], "wdir", scope, root_ok=True) if "wdir" in node else ".",
            deps=_unique(deps),
            outs=tuple(outs),
            metrics=tuple(metrics),
            params=_unique(params),
            validate=self.validations(node.get("validate"), what, deps + outs + metrics, scope),
            env=tuple(env),
            env_public=tuple(env_public),
            env_secret=tuple(env_secret),
            content=content,
            line=line_of(key),
            desc=self.text(node["desc"], "desc", scope) if "desc" in node else None,
            frozen=self.flag(node.get("frozen"), "frozen"),
            always_changed=self.flag(node.get("always_changed"), "always_changed"),
            out_options=tuple(sorted(options.items())),
            resources=MappingProxyType(self.checked_value(node, "resources", parse_resources, {})),
            retries=self.checked_value(node, "retries", parse_retries, 0),
        )

    def checked_value(self, node: dict[str, Node], field: str, parse: Any, default: Any) -> Any:
        """``parse(value)`` of an optional field; its ``ValueError`` becomes a ConfigError."""
        if field not in node:
            return default
        try:
            return parse(self.value(node[field]))
        except ValueError as exc:
            raise self.fail(node[field], str(exc)) from exc

    def flag(self, node: Node | None, what: str) -> bool:
        if node is None:
            return False
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what} must be true or false, not {value!r}")
        return value

    def validations(
        self, node: Node | None, what: str, paths: list[str], scope: Scope
    ) -> tuple[tuple[str, str], ...]:
        if node is None:
            return ()
        pairs: dict[str, str] = {}
        for _, key, value in self.items(node, "validate"):
            data = self.path(key, "validate data", scope)
            if not any(is_within(data, p) for p in paths):
                raise self.fail(
                    key,
                    f"validate: {data!r} is neither a dependency nor an output of {what}",
                    hint="add it to the stage's deps or outs",
                )
            if data in pairs:
                raise self.fail(key, f"validate names {data!r} twice")
            pairs[data] = self.path(value, "validate suite", scope)
        return tuple(sorted(pairs.items()))


def load_pipeline(root: Path, path: Path | None = None) -> PipelineSpec:
    """Load, expand and validate the pipeline file (``root/auditpipe.yaml`` by default).

    A relative ``path`` is taken from the current directory, as on a command line;
    it must lie inside ``root`` (runs record it repo-relative). Raises
    :class:`ConfigError` with file and line for anything wrong, including the
    graph-level problems :func:`auditpipe.pipeline.dag.build_dag` finds.
    """
    root = root.resolve()
    from auditpipe.pipeline.dvc.project import DVC_FILE, is_dvc_project, load_dvc_pipeline

    if path is None and is_dvc_project(root):
        # A DVC project: dvc.yaml defines the stages; auditpipe.yaml only overlays.
        spec = load_dvc_pipeline(root)
        if (root / PIPELINE_FILE).exists():
            from auditpipe.pipeline.dvc.overlay import apply_overlay

            spec = apply_overlay(spec, root / PIPELINE_FILE)
        return spec
    if path is not None and path.name == DVC_FILE:
        return load_dvc_pipeline(root)
    file = root / PIPELINE_FILE if path is None else path.absolute()
    file = file.parent.resolve() / file.name
    where = display_path(file)
    if not file.is_relative_to(root):
        raise ConfigError(
            f"the pipeline file is outside the repository {root}",
            path=where,
            hint="keep the pipeline file in the repository it describes",
        )
    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{file.name} not found", path=where, hint="run `auditpipe init` to create one"
        ) from exc
    except OSError as exc:
        what, hint = describe_fault(exc)
        raise ConfigError(f"cannot read the pipeline file: {what}", path=where, hint=hint) from exc
    parser = _Parser(where, root)
    params_file, signer, stages, allow, executor = parser.parse(decode(data, where=where))
    spec = PipelineSpec(
        path=file,
        root=root,
        params_file=params_file,
        signer=signer,
        stages=MappingProxyType(stages),
        sha256=hashlib.sha256(data).hexdigest(),
        secrets_allow=tuple(allow),
        artifacts=MappingProxyType(parser.cards),
        executor=executor,
        remotes=parser.remotes or Remotes(where=where),
    )
    build_dag(spec)
    return spec


# Params live in their own module; re-exported for callers of the spec API.
from auditpipe.pipeline.params import load_params, select_params  # noqa: E402

__all__ = ["PipelineSpec", "Scope", "StageSpec", "load_params", "load_pipeline", "select_params"]
