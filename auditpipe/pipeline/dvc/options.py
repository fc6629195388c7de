"""Paths and their options in a dvc.yaml: out options and plot definitions.

A path is relative to a base (the stage's ``wdir``, or the dvc.yaml's directory)
and recorded repo-relative. An ``outs``/``metrics`` entry may be ``{path:
{cache, persist, remote, push, ...}}``: the options auditpipe acts on become
:class:`OutOptions` (``desc``, ``type``, ``labels``, ``meta``: accepted, unused).
A stage's ``plots`` entry with options, and each top-level ``plots`` entry,
becomes a plot definition ``{id, files: {path: y}, x, template, title, ...}``.
"""

from __future__ import annotations

import posixpath
from typing import Any

from yaml.nodes import Node

from auditpipe.errors import ConfigError
from auditpipe.pipeline.dag import normalize_path
from auditpipe.pipeline.outs import OPTION_FIELDS, OutOptions
from auditpipe.pipeline.yamlpos import NodeReader, describe
from auditpipe.suggest import did_you_mean

OUT_OPTIONS = ("cache", "persist", "remote", "push", "desc", "type", "labels", "meta")
PLOT_OPTIONS = ("x", "y", "template", "title", "x_label", "y_label", "cache", "persist")


class PathOptionsReader(NodeReader):
    """Reads paths with their out and plot options; mixed into the dvc.yaml reader."""

    base: str
    """The dvc.yaml's directory, repo-relative: the base of top-level paths."""
    stage_options: dict[str, OutOptions]
    """The current stage's non-default out options, by repo-relative path."""
    stage_plots: list[dict[str, Any]]
    """Stage plot files with options, as plot definitions of their own."""

    def repo_path(self, base: str, raw: Any, node: Node, what: str) -> str:
        if not isinstance(raw, str) or not raw:
            raise self.fail(node, f"{what} must be a path, not {describe(raw)}")
        try:
            return normalize_path(raw if base == "." else posixpath.join(base, raw))
        except ValueError as exc:
            raise self.fail(
                node, f"{what} {raw!r} {exc}", hint="paths are relative to the stage's wdir"
            ) from exc

    def unknown(self, node: Node, option: str, owner: str, allowed: tuple[str, ...]) -> ConfigError:
        return self.fail(
            node,
            f"unknown option {option!r} of {owner}; allowed: {', '.join(allowed)}",
            hint=did_you_mean(option, allowed),
        )

    def with_options(self, entry: Node, value: dict[str, Any], wdir: str, what: str) -> Any:
        """The path of an entry ``{path: {options}}``; its non-default options are kept."""
        if len(value) != 1:
            raise self.fail(entry, f"each {what} entry with options names one path")
        ((path, options),) = value.items()
        allowed = PLOT_OPTIONS if what == "plots" else OUT_OPTIONS
        if options is not None and not isinstance(options, dict):
            raise self.fail(entry, f"the options of {what} {path!r} must be a mapping")
        for option in options or {}:
            if option not in allowed:
                raise self.unknown(entry, option, f"{what} {path!r}", allowed)
        if what != "plots" and options:
            chosen = self.out_options(path, options, entry)
            if not chosen.is_default:
                self.stage_options[self.repo_path(wdir, path, entry, what)] = chosen
        if what == "plots" and options:
            self.stage_plots.append(self.plot_props(wdir, path, options, entry))
        return path

    def out_options(self, path: str, options: dict[str, Any], at: Node) -> OutOptions:
        """DVC's out options as auditpipe's (desc, type, labels, meta: accepted, unused)."""
        values: dict[str, Any] = {}
        for name in OPTION_FIELDS:
            if name not in options:
                continue
            value = options[name]
            if name == "remote" and not (isinstance(value, str) and value):
                raise self.fail(at, f"remote of {path!r} must be a remote's name")
            if name != "remote" and not isinstance(value, bool):
                raise self.fail(at, f"{name} of {path!r} must be true or false, not {value!r}")
            values[name] = value
        return OutOptions(**values)

    def plot_props(self, wdir: str, path: str, options: dict[str, Any], at: Node) -> dict[str, Any]:
        """A stage's plot file with options, as a plot definition of its own."""
        rel = self.repo_path(wdir, path, at, "plots entry")
        y = options.get("y")
        props = {k: v for k, v in options.items() if k in ("x", "template", "title")}
        return {"id": rel, "files": {rel: y if isinstance(y, str) else None}, **props}

    def top_plot(self, node: Node, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            path = self.repo_path(self.base, value, node, "plots entry")
            return {"id": path, "files": {path: None}}
        if not isinstance(value, dict) or len(value) != 1:
            raise self.fail(node, "plots entry must be a path or {id: {x, y, template}}")
        ((plot_id, props),) = value.items()
        props = props or {}
        if not isinstance(props, dict):
            raise self.fail(node, f"plot {plot_id!r} must map to its options")
        for option in props:
            if option not in PLOT_OPTIONS:
                raise self.unknown(node, option, f"plot {plot_id!r}", PLOT_OPTIONS)
        y = props.get("y")
        files: dict[str, Any] = {}
        if isinstance(y, dict):
            for file, column in y.items():
                files[self.repo_path(self.base, file, node, "plot file")] = column
        else:
            files[self.repo_path(self.base, plot_id, node, "plot file")] = y
        return {"id": plot_id, "files": files, **{k: v for k, v in props.items() if k != "y"}}
