"""One dvc.yaml read into auditpipe stages, with DVC's semantics.

Paths in a stage (``deps``, ``outs``, ``metrics``, ``plots``, params files,
``vars`` files) are relative to the stage's ``wdir``, itself relative to the
dvc.yaml's directory; they are recorded repo-relative. ``params`` entries are
keys of ``params.yaml`` in the ``wdir`` or ``{file: [keys]}`` (no keys: the
whole file). ``foreach`` needs ``do:``; ``matrix`` takes the stage's fields
beside it. Names follow DVC: ``train``, ``train@1``, ``sub/dvc.yaml:train``.
Paths with their out and plot options are read in ``auditpipe.pipeline.dvc.options``.
"""

from __future__ import annotations

import itertools
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from auditpipe.errors import ConfigError
from auditpipe.faults import describe as describe_fault
from auditpipe.pipeline.artifacts import ModelCard, parse_cards
from auditpipe.pipeline.dvc.context import Context, ResolveProblem, as_config_error
from auditpipe.pipeline.dvc.options import PathOptionsReader
from auditpipe.pipeline.spec import DEFAULT_PARAMS_FILE, StageSpec
from auditpipe.pipeline.yamlpos import compose, decode, describe, is_null, line_of

TOP_FIELDS = ("stages", "vars", "params", "metrics", "plots", "artifacts", "datasets")
STAGE_FIELDS = (
    *("cmd", "wdir", "deps", "params", "outs", "metrics", "plots"),
    *("frozen", "always_changed", "meta", "desc", "vars"),
)
MAX_EXPANSIONS = 10_000


@dataclass
class DvcFile:
    """What one dvc.yaml declares, paths repo-relative."""

    rel: str
    stages: list[StageSpec] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    plots: list[dict[str, Any]] = field(default_factory=list)
    cards: dict[str, ModelCard] = field(default_factory=dict)
    """Top-level ``artifacts:`` (DVC's, the model cards), paths repo-relative."""
    data: bytes = b""


def _to_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class DvcReader(PathOptionsReader):
    """Reads the nodes of one dvc.yaml, resolving ``${}`` as it goes."""

    def __init__(self, root: Path, rel: str, where: str) -> None:
        super().__init__(where)
        self.root = root
        self.rel = rel
        self.base = posixpath.dirname(rel) or "."
        self.stage_plots: list[dict[str, Any]] = []  # stage plot files with options

    # -- values -------------------------------------------------------------------

    def resolve(self, node: Node, ctx: Context, what: str) -> Any:
        """The node's value with every string interpolated (errors at its line)."""
        if isinstance(node, MappingNode):
            return {k: self.resolve(v, ctx, what) for k, _, v in self.items(node, what)}
        if isinstance(node, SequenceNode):
            return [self.resolve(n, ctx, what) for n in node.value]
        value = self.value(node)
        if not isinstance(value, str):
            return value
        try:
            return ctx.resolve(value, field=what)
        except ResolveProblem as problem:
            raise as_config_error(problem, self.where, line_of(node)) from problem

    def flag(self, node: Node, ctx: Context, what: str) -> bool:
        value = self.resolve(node, ctx, what)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what} must be true or false, not {describe(value)}")
        return value

    def strings(self, node: Node, ctx: Context, what: str) -> list[Any]:
        value = self.resolve(node, ctx, what)
        if not isinstance(value, list):
            raise self.fail(node, f"{what} must be a list, not {describe(value)}")
        return value

    # -- the file -------------------------------------------------------------------

    def read(self, data: bytes) -> DvcFile:
        result = DvcFile(self.rel, data=data)
        top_node = compose(decode(data, where=self.where), where=self.where)
        if top_node is None or is_null(top_node):
            return result
        top = self.fields(top_node, TOP_FIELDS, "the top level of dvc.yaml")
        ctx = Context()
        if (self.root / self.base / DEFAULT_PARAMS_FILE).is_file():
            self.load_vars(ctx, None, self.base, top_node)
        if "vars" in top:
            self.load_vars(ctx, top["vars"][1], self.base, top["vars"][0])
        if "stages" in top:
            for name, key, body in self.items(top["stages"][1], "stages"):
                result.stages.extend(self.group(name, key, body, ctx))
        if "metrics" in top:
            node = top["metrics"][1]
            for entry, value in zip(
                self.sequence(node, "metrics"), self.strings(node, ctx, "metrics"), strict=True
            ):
                result.metrics.append(self.repo_path(self.base, value, entry, "metrics entry"))
        if "plots" in top:
            node = top["plots"][1]
            for entry, value in zip(
                self.sequence(node, "plots"), self.strings(node, ctx, "plots"), strict=True
            ):
                result.plots.append(self.top_plot(entry, value))
        if "artifacts" in top:
            result.cards = parse_cards(
                self,
                top["artifacts"][1],
                lambda n, w: self.repo_path(self.base, self.string(n, w), n, w),
            )
        covered = {f for plot in result.plots for f in plot["files"]}
        result.plots += [p for p in self.stage_plots if p["id"] not in covered]
        return result

    def load_vars(self, ctx: Context, node: Node | None, base: str, at: Node) -> None:
        try:
            if node is None:
                ctx.merge_file(self.root, base, DEFAULT_PARAMS_FILE)
                return
            for i, entry in enumerate(self.sequence(node, "vars")):
                value = self.value(entry)
                if isinstance(value, str):
                    ctx.merge_file(self.root, base, value)
                elif isinstance(value, dict):
                    ctx.merge(value, f"vars[{i}]")
                else:
                    raise self.fail(
                        entry, f"vars entry must be a file or a mapping, not {describe(value)}"
                    )
        except ResolveProblem as problem:
            line_node = at if node is None else node
            raise as_config_error(problem, self.where, line_of(line_node)) from problem

    # -- stages -----------------------------------------------------------------------

    def full_name(self, name: str) -> str:
        return name if self.rel == "dvc.yaml" else f"{self.rel}:{name}"

    def group(self, name: str, key: Node, body: Node, ctx: Context) -> list[StageSpec]:
        if not name or any(c in name for c in ":/\\@"):
            raise self.fail(
                key, f"stage name {name!r} may not be empty or contain ':', '/', '\\' or '@'"
            )
        what = f"stage {name!r}"
        fields = self.fields(body, (*STAGE_FIELDS, "foreach", "matrix", "do"), what)
        if "foreach" in fields:
            stray = [f for f in fields if f not in ("foreach", "do")]
            if stray:
                raise self.fail(fields[stray[0]][0], f"{stray[0]!r} of {what} belongs under 'do:'")
            if "do" not in fields:
                raise self.fail(
                    key,
                    f"{what} has foreach but no 'do:'",
                    hint="put the stage's fields under `do:`",
                )
            iterable = self.resolve(fields["foreach"][1], ctx, "foreach")
            node = fields["foreach"][1]
            if isinstance(iterable, dict):
                pairs = [(_to_name(k), {"key": k, "item": v}) for k, v in iterable.items()]
            elif isinstance(iterable, list):
                composite = any(isinstance(v, list | dict) for v in iterable)
                names = [str(i) if composite else _to_name(v) for i, v in enumerate(iterable)]
                # As in DVC, ${key} is the generated name: the value, or the index.
                pairs = [(n, {"key": n, "item": v}) for n, v in zip(names, iterable, strict=True)]
            else:
                raise self.fail(
                    node, f"foreach must be a list or a mapping, not {describe(iterable)}"
                )
            return self.expand(name, key, fields["do"][1], ctx, pairs, node)
        if "matrix" in fields:
            if "do" in fields:
                raise self.fail(
                    fields["do"][0], "a matrix stage takes its fields directly, not under 'do:'"
                )
            node = fields["matrix"][1]
            axes: dict[str, list[Any]] = {}
            for axis, _, values in self.items(node, "matrix"):
                resolved = self.resolve(values, ctx, "matrix")
                if not isinstance(resolved, list) or not resolved:
                    raise self.fail(values, f"matrix axis {axis!r} must be a non-empty list")
                axes[axis] = resolved
            combos = []
            for combo in itertools.product(*(list(enumerate(v)) for v in axes.values())):
                parts = [
                    f"{axis}{i}" if isinstance(v, list | dict) else _to_name(v)
                    for axis, (i, v) in zip(axes, combo, strict=True)
                ]
                item = {axis: v for axis, (_, v) in zip(axes, combo, strict=True)}
                combos.append(("-".join(parts), {"key": "-".join(parts), "item": item}))
            return self.expand(name, key, body, ctx, combos, node)
        if "do" in fields:
            raise self.fail(fields["do"][0], f"'do:' of {what} needs foreach")
        return [self.stage(self.full_name(name), key, body, ctx)]

    def expand(
        self,
        name: str,
        key: Node,
        body: Node,
        ctx: Context,
        pairs: list[tuple[str, dict[str, Any]]],
        at: Node,
    ) -> list[StageSpec]:
        if len(pairs) > MAX_EXPANSIONS:
            raise self.fail(at, f"stage {name!r} expands to over {MAX_EXPANSIONS} stages")
        stages = []
        for suffix, local in pairs:
            scoped = ctx.clone()
            scoped.data.update(local)  # item/key shadow params of the same name, as in DVC
            stages.append(self.stage(self.full_name(f"{name}@{suffix}"), key, body, scoped))
        return stages

    def stage(self, name: str, key: Node, body: Node, ctx: Context) -> StageSpec:
        what = f"stage {name!r}"
        fields = self.fields(body, (*STAGE_FIELDS, "matrix"), what)
        node = {f: v for f, (_, v) in fields.items() if f != "matrix"}
        if "cmd" not in node:
            raise self.fail(key, f"{what} has no 'cmd'", hint="add `cmd: <command to run>`")
        wdir = self.base
        if "wdir" in node:
            raw = self.resolve(node["wdir"], ctx, "wdir")
            wdir = (
                self.repo_path(self.base, raw, node["wdir"], "wdir")
                if raw not in (".", "")
                else self.base
            )
        if "vars" in node:
            ctx = ctx.clone()
            self.load_vars(ctx, node["vars"], wdir, fields["vars"][0])
        cmd = self.resolve(node["cmd"], ctx, "cmd")
        parts = cmd if isinstance(cmd, list) else [cmd]
        if not parts or not all(isinstance(p, str) and p.strip() for p in parts):
            raise self.fail(node["cmd"], f"cmd of {what} must be a command or a list of commands")
        self.stage_options = {}
        deps = self.paths(node.get("deps"), ctx, wdir, "deps")
        outs = self.paths(node.get("outs"), ctx, wdir, "outs")
        metrics = self.paths(node.get("metrics"), ctx, wdir, "metrics")
        plots = self.paths(node.get("plots"), ctx, wdir, "plots")
        params, files = self.params(node.get("params"), ctx, wdir)
        if "desc" in node and not isinstance(self.resolve(node["desc"], ctx, "desc"), str):
            raise self.fail(node["desc"], "desc must be a string")
        if "meta" in node:
            self.resolve(node["meta"], ctx, "meta")  # checked, not used: DVC ignores it too
        return StageSpec(
            name=name,
            cmd=" && ".join(parts),
            wdir=wdir,
            deps=tuple(dict.fromkeys(deps)),
            outs=tuple(outs),
            metrics=tuple(metrics),
            params=tuple(dict.fromkeys(params)),
            validate=(),
            env=(),
            content=False,
            line=line_of(key),
            desc=self.resolve(node["desc"], ctx, "desc") if "desc" in node else None,
            frozen=self.flag(node["frozen"], ctx, "frozen") if "frozen" in node else False,
            # A stage with neither deps nor outputs is a "callback" in DVC: always run.
            always_changed=(
                self.flag(node["always_changed"], ctx, "always_changed")
                if "always_changed" in node
                else False
            )
            or not (deps or outs or metrics or plots),
            param_files=tuple((f, tuple(k)) for f, k in files.items()),
            plots=tuple(plots),
            source=self.rel,
            out_options=tuple(sorted(self.stage_options.items())),
        )

    def paths(self, node: Node | None, ctx: Context, wdir: str, what: str) -> list[str]:
        if node is None:
            return []
        found = []
        for entry in self.sequence(node, what):
            value = self.resolve(entry, ctx, what)
            if isinstance(value, dict):
                value = self.with_options(entry, value, wdir, what)
            found.append(self.repo_path(wdir, value, entry, f"{what} entry"))
        return found

    def params(
        self, node: Node | None, ctx: Context, wdir: str
    ) -> tuple[list[str], dict[str, list[str]]]:
        """Keys of the root params.yaml, and ``{file: keys}`` for every other file."""
        keys: list[str] = []
        files: dict[str, list[str]] = {}
        if node is None:
            return keys, files

        def add(file: str, names: list[str], at: Node) -> None:
            for name in names:
                if not isinstance(name, str) or not name:
                    raise self.fail(at, f"params key must be a string, not {describe(name)}")
            if file == DEFAULT_PARAMS_FILE and names:
                keys.extend(names)
            else:
                files.setdefault(file, []).extend(names)

        default = self.repo_path(wdir, DEFAULT_PARAMS_FILE, node, "params file")
        for entry in self.sequence(node, "params"):
            value = self.resolve(entry, ctx, "params")
            if isinstance(value, str):
                add(default, [value], entry)
            elif isinstance(value, dict):
                for file, names in value.items():
                    path = self.repo_path(wdir, file, entry, "params file")
                    if names is None:
                        names = []
                    if not isinstance(names, list):
                        raise self.fail(entry, f"params of {file!r} must be a list of keys")
                    add(path, names, entry)
            else:
                raise self.fail(
                    entry, f"params entry must be a key or {{file: [keys]}}, not {describe(value)}"
                )
        return keys, files


def read_dvc_file(root: Path, rel: str, where: str) -> DvcFile:
    """Read ``root/rel`` (a dvc.yaml); ConfigError with file and line for bad input."""
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        what, hint = describe_fault(exc)
        raise ConfigError(f"cannot read {rel}: {what}", path=where, hint=hint) from exc
    return DvcReader(root, rel, where).read(data)
