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
- ``${...}`` is interpolated in every string field but ``env``; the only variables
  are ``item`` (``${item.field}``, ``${item.0}``) and ``key``, inside expansions.
  There is no ``${params.x}``: param values are recorded, not spliced into commands.
  ``\\${X}`` (or ``$X``) leaves a literal ``${X}`` for the shell.
- ``null`` for an optional field means the field is absent.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from yaml.nodes import Node, SequenceNode

from auditpipe.errors import ConfigError
from auditpipe.pipeline.dag import build_dag, is_within, normalize_path
from auditpipe.pipeline.yamlpos import (
    NodeReader,
    compose,
    decode,
    describe,
    display_path,
    is_null,
    line_of,
)

PIPELINE_FILE = "auditpipe.yaml"
DEFAULT_PARAMS_FILE = "params.yaml"
TOP_FIELDS = ("params", "signer", "stages")
STAGE_FIELDS = (
    *("cmd", "deps", "outs", "metrics", "params", "validate", "wdir", "env", "content", "desc"),
)
TEMPLATE_FIELDS = ("foreach", "matrix", "do")
SIGNERS = ("local", "sigstore", "auto")
MAX_EXPANSIONS = 10_000
NAME = re.compile(r"[A-Za-z0-9_.-]+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PARAM_KEY = re.compile(r"[^.\s]+(\.[^.\s]+)*")
VARIABLE = re.compile(r"(\\?)\$\{([^{}]*)\}")
Scalar = str | int | float | bool | datetime.date
Scope = dict[str, Any] | None  # the variables of one expansion; None outside templates


@dataclass(frozen=True)
class StageSpec:
    """One (expanded) stage, paths normalized, in file order of appearance."""

    name: str
    cmd: str
    wdir: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    metrics: tuple[str, ...]
    params: tuple[str, ...]
    validate: tuple[tuple[str, str], ...]
    env: tuple[str, ...]
    content: bool
    line: int
    desc: str | None = None
    frozen: bool = False
    """Never re-run (DVC's ``frozen``): the stage counts as up to date as it is."""
    always_changed: bool = False
    """Always re-run (DVC's ``always_changed``); its downstream follows its outputs."""
    param_files: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Params read from files other than the pipeline's: ``(file, keys)``, no keys = all."""
    plots: tuple[str, ...] = ()
    """Plot files the stage writes (outputs, like ``metrics``)."""
    reads_metrics: tuple[str, ...] = ()
    """Metrics files inside the stage's outputs (a dvc.yaml's top-level ``metrics:``)."""
    source: str | None = None
    """The file that declared the stage, when it is not the pipeline file (a dvc.yaml)."""

    @property
    def all_outputs(self) -> tuple[str, ...]:
        """``outs``, ``metrics`` then ``plots``: everything the stage writes."""
        return self.outs + self.metrics + self.plots

    def definition(self) -> dict[str, Any]:
        """The expanded definition as JSON-able data, for the stage key.

        ``line`` and ``desc`` are left out, and lists whose order carries no
        meaning are sorted, so moving or re-documenting a stage changes nothing.
        """
        return {
            "name": self.name,
            "cmd": self.cmd,
            "wdir": self.wdir,
            "deps": sorted(self.deps),
            "outs": sorted(self.outs),
            "metrics": sorted(self.metrics),
            "params": sorted(self.params),
            "validate": [list(pair) for pair in self.validate],
            "env": sorted(self.env),
            "content": self.content,
            # Fields newer than the key format enter it only when used, so the
            # key of a stage written without them never changes.
            **(
                {"paramFiles": [[f, list(k)] for f, k in self.param_files]}
                if self.param_files
                else {}
            ),
            **({"plots": sorted(self.plots)} if self.plots else {}),
        }


@dataclass(frozen=True)
class PipelineSpec:
    """A loaded ``auditpipe.yaml``: its stages (expanded, file order) and identity."""

    path: Path
    root: Path
    params_file: str
    signer: str | None
    stages: Mapping[str, StageSpec]
    sha256: str
    files: tuple[str, ...] = ()
    """The dvc.yaml files read, repo-relative, when the pipeline comes from DVC."""
    metrics: tuple[str, ...] = ()
    """Top-level ``metrics:`` files (a dvc.yaml's), repo-relative."""
    plots: tuple[Mapping[str, Any], ...] = ()
    """Plot definitions: ``{"id", "files": {path: y}, "x", "template", ...}``."""


def _render(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _suffix(value: Any, fallback: str) -> str:
    """The name suffix of one expansion: the value itself when it is a scalar."""
    return _render(value) if isinstance(value, Scalar) else fallback


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


class _Parser(NodeReader):
    """Reads ``auditpipe.yaml`` nodes into stages, expanding templates."""

    # -- scalars and lists ----------------------------------------------------

    def text(self, node: Node, what: str, scope: Scope) -> str:
        return self.interpolate(self.string(node, what), node, scope)

    def texts(self, node: Node, what: str, scope: Scope) -> list[str]:
        return [self.text(n, f"each entry of {what}", scope) for n in self.sequence(node, what)]

    def checked(
        self, node: Node | None, what: str, scope: Scope, pattern: re.Pattern[str], kind: str
    ) -> list[str]:
        """A list of strings, each matching ``pattern``; ``env`` passes no scope,
        so ``${...}`` there is refused rather than interpolated."""
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
            return _render(self.lookup(match.group(2).strip(), node, scope))

        return VARIABLE.sub(substitute, text)

    def lookup(self, name: str, node: Node, scope: Scope) -> Scalar:
        head, *rest = name.split(".")
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

    # -- the file, stages and expansions ----------------------------------------

    def parse(self, text: str) -> tuple[str, str | None, dict[str, StageSpec]]:
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
            params_file = self.path(top["params"][1], "params file", None)
        signer = None
        if "signer" in top:
            signer = self.string(top["signer"][1], "signer")
            if signer not in SIGNERS:
                raise self.fail(top["signer"][1], f"signer must be one of {', '.join(SIGNERS)}")
        stages: dict[str, StageSpec] = {}
        if "stages" in top:
            for name, key_node, body in self.items(top["stages"][1], "stages"):
                self.check_name(name, key_node)
                for stage in self.stage_or_template(name, key_node, body):
                    if stage.name in stages:
                        raise self.fail(key_node, f"expanding {name!r} yields {stage.name!r} twice")
                    stages[stage.name] = stage
        return params_file, signer, stages

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
        fields = self.fields(body, (*TEMPLATE_FIELDS, *STAGE_FIELDS), f"stage {name!r}")
        for field, (field_key, _) in fields.items():
            if field in STAGE_FIELDS:
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
        value = self.value(node)
        if loop == "matrix" and not isinstance(value, dict):
            raise self.fail(node, f"matrix must be a mapping of lists, not {describe(value)}")
        if not isinstance(value, list | dict):
            raise self.fail(node, f"foreach must be a list or a mapping, not {describe(value)}")
        if not value:
            raise self.fail(node, f"{loop} of stage {name!r} is empty")
        if isinstance(value, list):
            found = [(_suffix(v, str(i)), {"item": v}) for i, v in enumerate(value)]
        elif loop == "foreach":
            found = [(_render(k), {"key": k, "item": v}) for k, v in value.items()]
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

    def stage(self, name: str, key: Node, body: Node, scope: Scope) -> StageSpec:
        what = f"stage {name!r}"
        fields = self.fields(body, STAGE_FIELDS, what)
        node = {field: value for field, (_, value) in fields.items()}
        if "cmd" not in node:
            raise self.fail(key, f"{what} has no 'cmd'", hint="add `cmd: <command to run>`")
        if isinstance(node["cmd"], SequenceNode):
            parts = self.texts(node["cmd"], "cmd", scope)
        else:
            parts = [self.text(node["cmd"], "cmd", scope)]
        if not parts or not all(p.strip() for p in parts):
            raise self.fail(node["cmd"], f"cmd of {what} is empty")
        deps, outs, metrics = (
            self.paths(node[f], f, scope) if f in node else [] for f in ("deps", "outs", "metrics")
        )
        params = self.checked(node.get("params"), "params", scope, PARAM_KEY, "a dotted key")
        env = self.checked(node.get("env"), "env", None, ENV_NAME, "a variable name")
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
            env=_unique(env),
            content=content,
            line=line_of(key),
            desc=self.text(node["desc"], "desc", scope) if "desc" in node else None,
        )

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
        raise ConfigError(
            f"cannot read the pipeline file: {exc.strerror or exc}", path=where
        ) from exc
    params_file, signer, stages = _Parser(where).parse(decode(data, where=where))
    spec = PipelineSpec(
        path=file,
        root=root,
        params_file=params_file,
        signer=signer,
        stages=MappingProxyType(stages),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    build_dag(spec)
    return spec


# Params live in their own module; re-exported for callers of the spec API.
from auditpipe.pipeline.params import load_params, select_params  # noqa: E402

__all__ = ["PipelineSpec", "StageSpec", "load_params", "load_pipeline", "select_params"]
