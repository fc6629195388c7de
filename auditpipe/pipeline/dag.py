"""The stage graph of a pipeline: who feeds whom, in what order.

Owns the checks that need every stage at once — two stages writing one output
(or one writing inside another's output directory), a stage reading its own
output, cycles — plus the queries the planner needs (upstream, downstream,
producer, order, select) and renderings of the graph (mermaid, dot, JSON, text).

There is an edge ``a -> b`` when a dependency of ``b`` and an output (``outs`` or
``metrics``) of ``a`` are the same path, or one lies inside the other: ``b``
reads a file inside a directory ``a`` writes, or reads a directory that holds
something ``a`` writes. Paths are the normalized repo-relative POSIX strings the
spec produces: :func:`normalize_path` lives here, beside :func:`is_within`.
"""

from __future__ import annotations

import bisect
import heapq
import posixpath
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from auditpipe.errors import ConfigError
from auditpipe.pipeline.yamlpos import display_path
from auditpipe.suggest import did_you_mean

if TYPE_CHECKING:  # the spec imports this module to validate what it loads
    from auditpipe.pipeline.spec import PipelineSpec, StageSpec


def is_within(path: str, base: str) -> bool:
    """True when ``path`` is ``base`` or lies inside the directory ``base``."""
    return path == base or path.startswith(base + "/")


def normalize_path(path: str) -> str:
    """``path`` as a normalized repo-relative POSIX path (``./a/../b`` -> ``b``).

    Raises ``ValueError`` (saying why) for an empty or absolute path, a control
    character, a path climbing above the repository root, or one inside ``.git``.
    """
    from auditpipe.storage import is_url, normalize_url

    if is_url(path):  # an object-store URL stays a URL (s3://b/k, not s3:/b/k)
        return normalize_url(path)
    raw = path.replace("\\", "/")
    if not raw.strip():
        raise ValueError("is empty")
    if any(ord(char) < 32 for char in raw):
        raise ValueError("contains a control character")
    if raw.startswith("/") or re.match(r"[A-Za-z]:(/|$)", raw):
        raise ValueError("is absolute; paths are relative to the repository root")
    norm = posixpath.normpath(raw)
    if norm == ".." or norm.startswith("../"):
        raise ValueError("escapes the repository root")
    if norm.split("/", 1)[0] == ".git":
        raise ValueError("is inside .git")
    return norm


def _self_and_parents(path: str) -> Iterator[str]:
    yield path
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


class Dag:
    """The validated graph of a :class:`PipelineSpec`; build it with :func:`build_dag`."""

    def __init__(self, spec: PipelineSpec) -> None:
        self._where = display_path(spec.path)
        self._root = spec.root
        self._stages: dict[str, StageSpec] = dict(spec.stages)
        self._index = {name: i for i, name in enumerate(self._stages)}
        self._writer: dict[str, str] = {}  # output path -> the stage writing it
        self._edges: dict[tuple[str, str], list[str]] = {}  # (up, down) -> dep paths
        self._up: dict[str, set[str]] = {name: set() for name in self._stages}
        self._down: dict[str, set[str]] = {name: set() for name in self._stages}
        self._check_outputs()
        self._link()
        self._order = self._toposort()

    # -- construction -----------------------------------------------------------

    def _fail(self, stage: str, message: str, hint: str | None = None) -> ConfigError:
        spec = self._stages[stage]
        # A dvc.yaml stage names its own file (a project may have several).
        where = display_path(self._root / spec.source) if spec.source else self._where
        return ConfigError(message, path=where, line=spec.line, hint=hint)

    def _check_outputs(self) -> None:
        for name, stage in self._stages.items():
            for out in stage.all_outputs:
                owner = self._writer.get(out)
                if owner is None:
                    self._writer[out] = name
                elif owner == name:
                    raise self._fail(name, f"stage {name!r} lists output {out!r} twice")
                else:
                    raise self._fail(
                        name,
                        f"output {out!r} is written by two stages: {owner!r} "
                        f"(line {self._stages[owner].line}) and {name!r}",
                        hint="each output must have exactly one producing stage",
                    )
        for out, name in self._writer.items():
            for parent in list(_self_and_parents(out))[1:]:
                owner = self._writer.get(parent)
                if owner is None:
                    continue
                second = max((owner, name), key=self._index.__getitem__)
                whose = f"stage {owner!r}" if owner != name else "the same stage"
                raise self._fail(
                    second,
                    f"output {out!r} of stage {name!r} is inside output {parent!r} of {whose}",
                    hint=f"let one stage own the directory {parent!r}, or list files instead",
                )

    def _producers(self, path: str) -> list[tuple[str, str]]:
        """``(stage, output)`` for every output overlapping ``path``, in file order."""
        found = [(self._writer[p], p) for p in _self_and_parents(path) if p in self._writer]
        outs = self._sorted_outputs
        i = bisect.bisect_left(outs, path + "/")
        while i < len(outs) and outs[i].startswith(path + "/"):
            found.append((self._writer[outs[i]], outs[i]))
            i += 1
        return sorted(found, key=lambda item: self._index[item[0]])

    def _link(self) -> None:
        self._sorted_outputs = sorted(self._writer)
        for name, stage in self._stages.items():
            for dep in stage.deps:
                for producer, out in self._producers(dep):
                    if producer == name:
                        what = repr(dep) if dep == out else f"{dep!r} (overlapping {out!r})"
                        raise self._fail(
                            name,
                            f"stage {name!r} depends on its own output {what}",
                            hint="a stage cannot read what it writes; split it in two",
                        )
                    self._edges.setdefault((producer, name), []).append(dep)
                    self._up[name].add(producer)
                    self._down[producer].add(name)

    def _toposort(self) -> list[str]:
        missing = {name: len(up) for name, up in self._up.items()}
        ready = [self._index[n] for n, count in missing.items() if count == 0]
        heapq.heapify(ready)
        names = list(self._stages)
        order: list[str] = []
        while ready:
            name = names[heapq.heappop(ready)]
            order.append(name)
            for child in self._down[name]:
                missing[child] -= 1
                if missing[child] == 0:
                    heapq.heappush(ready, self._index[child])
        if len(order) < len(names):
            left = {n for n, count in missing.items() if count > 0}
            raise self._cycle(left)
        return order

    def _cycle(self, left: set[str]) -> ConfigError:
        # Every stage left over by Kahn's algorithm has an upstream stage also left
        # over, so walking upstream from any of them must come back round.
        node = min(left, key=self._index.__getitem__)
        path: list[str] = []
        while node not in path:
            path.append(node)
            node = min(self._up[node] & left, key=self._index.__getitem__)
        ring = path[path.index(node) :][::-1]  # walked upstream; read it downstream
        first = min(ring, key=self._index.__getitem__)
        at = ring.index(first)
        ring = ring[at:] + ring[:at]
        steps = " -> ".join([*ring, first])
        return self._fail(
            first,
            f"cycle between stages: {steps}",
            hint="a stage cannot (indirectly) read what a later stage writes",
        )

    # -- queries ------------------------------------------------------------------

    def _known(self, stage: str) -> str:
        if stage not in self._stages:
            raise ConfigError(
                f"unknown stage {stage!r} in {self._where}",
                hint=did_you_mean(stage, self._stages) or "run `auditpipe dag` to list them",
            )
        return stage

    @property
    def stages(self) -> list[str]:
        """Stage names in file order."""
        return list(self._stages)

    def upstream(self, stage: str) -> set[str]:
        """Stages ``stage`` reads from directly."""
        return set(self._up[self._known(stage)])

    def downstream(self, stage: str) -> set[str]:
        """Every stage that (transitively) reads what ``stage`` writes."""
        seen: set[str] = set()
        todo = [self._known(stage)]
        while todo:
            for child in self._down[todo.pop()]:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    def producer(self, path: str) -> str | None:
        """The stage that writes ``path``, writes a directory holding it, or (first in
        file order) writes something inside the directory ``path``; else ``None``."""
        try:
            norm = normalize_path(path)
        except ValueError:
            return None
        found = self._producers(norm)
        return found[0][0] if found else None

    def order(self) -> list[str]:
        """Topological order; among stages ready at the same time, file order."""
        return list(self._order)

    def select(self, targets: Iterable[str]) -> list[str]:
        """``targets`` and everything upstream of them, in topological order.

        A target may be a template's base name (``train``) to mean all its
        expansions (``train@1``, ``train@2``, ...).
        """
        chosen: set[str] = set()
        for target in targets:
            group = [n for n in self._stages if n.split("@", 1)[0] == target]
            todo = [target] if target in self._stages else group or [self._known(target)]
            while todo:
                name = todo.pop()
                if name not in chosen:
                    chosen.add(name)
                    todo.extend(self._up[name])
        return [name for name in self._order if name in chosen]

    def edges(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """``(upstream, downstream, dependency paths)`` in file order."""
        keyed = sorted(
            self._edges.items(), key=lambda e: (self._index[e[0][0]], self._index[e[0][1]])
        )
        return [(up, down, tuple(sorted(set(paths)))) for (up, down), paths in keyed]

    # -- renderings ---------------------------------------------------------------

    def to_mermaid(self) -> str:
        """A mermaid ``flowchart`` (nodes ``s0``, ``s1``... labelled with stage names)."""
        ids = {name: f"s{i}" for i, name in enumerate(self._stages)}
        lines = ["flowchart TD"]
        lines += [f'    {ids[name]}["{name}"]' for name in self._stages]
        lines += [f"    {ids[up]} --> {ids[down]}" for up, down, _ in self.edges()]
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        """A graphviz ``digraph``."""
        lines = ["digraph pipeline {", "    rankdir=TB;"]
        lines += [f'    "{name}";' for name in self._stages]
        lines += [f'    "{up}" -> "{down}";' for up, down, _ in self.edges()]
        return "\n".join([*lines, "}"]) + "\n"

    def to_json(self) -> dict[str, Any]:
        """Stages (file order, with their upstream), edges with the paths, and the order."""
        return {
            "stages": [
                {
                    "name": name,
                    "line": stage.line,
                    "deps": list(stage.deps),
                    "outs": list(stage.outs),
                    "metrics": list(stage.metrics),
                    "upstream": sorted(self._up[name], key=self._index.__getitem__),
                }
                for name, stage in self._stages.items()
            ],
            "edges": [{"from": u, "to": d, "paths": list(p)} for u, d, p in self.edges()],
            "order": self.order(),
        }

    def to_text(self) -> str:
        """One line per stage in run order: ``train@1 <- prepare``."""
        lines = []
        for name in self._order:
            up = sorted(self._up[name], key=self._index.__getitem__)
            lines.append(f"{name} <- {', '.join(up)}" if up else name)
        return "\n".join(lines) + ("\n" if lines else "")


def build_dag(spec: PipelineSpec) -> Dag:
    """The graph of ``spec``; :class:`ConfigError` for conflicting outputs,
    a stage reading its own output, or a cycle (each with file and line)."""
    return Dag(spec)
