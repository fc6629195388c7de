"""Decide which stages are up to date, and say why the others are stale.

A stage's **key** is the sha256 of the canonical JSON of its expanded
definition (command included), its dependencies' digests, the param values it
reads, and the digests of its validation suites. A stage is up to date when a
successful run with that key, signed by a signer the project trusts, is on the
ledger and every output on disk still has the digest that run recorded. Runs by
other signers count neither for nor against a stage (``pipeline.trusted``): not
for skipping, restoring or explaining it, nor as a newer failed run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditpipe.fingerprint import Fingerprint, StatCache, fingerprint_many
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import StageRun
from auditpipe.pipeline.diff import flatten
from auditpipe.pipeline.params import missing_params
from auditpipe.pipeline.spec import PipelineSpec, StageSpec
from auditpipe.pipeline.stagekey import StageInputs, stage_key
from auditpipe.pipeline.trusted import RunTrust
from auditpipe.storage import is_url


@dataclass(frozen=True)
class Assessment:
    """What the planner found for one stage."""

    stage: str
    key: str | None
    up_to_date: bool
    run: str | None = None
    """The run that makes it up to date (or, when stale, the latest successful run)."""
    reasons: tuple[str, ...] = ()
    deps: Mapping[str, Fingerprint] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    suites: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, Fingerprint] = field(default_factory=dict)
    """The stage's outputs as they are on disk now (missing ones absent)."""
    cached: tuple[str, ...] = ()
    """Trusted successful runs with this very key whose outputs are missing or
    modified, newest first: restoring one from the cache makes the stage up to date."""


class Planner:
    """Fingerprints, keys and ledger lookups for the stages of one pipeline."""

    def __init__(
        self,
        spec: PipelineSpec,
        ledger: Ledger,
        params_doc: Mapping[str, Any],
        cache: StatCache | None = None,
        *,
        trust: RunTrust,
    ) -> None:
        self.spec = spec
        self.ledger = ledger
        self.params_doc = params_doc
        self.cache = cache
        self.trust = trust
        """The runs that count: signed by a signer the project trusts."""
        self._inputs = StageInputs(spec, params_doc)
        self.assessed: dict[str, Assessment] = {}
        """The latest assessment of each stage (what the no-op state records)."""

    def fingerprints(
        self, paths: Sequence[str], *, content: bool = False
    ) -> dict[str, Fingerprint]:
        """Fingerprints of the paths that exist (missing ones are simply absent)."""
        root = self.spec.root
        urls = [p for p in paths if is_url(p)]
        paths = [p for p in paths if not is_url(p)]
        present = [p for p in paths if (root / p).exists() or (root / p).is_symlink()]
        # Absolute paths: the current directory may be anywhere inside the repository.
        found = fingerprint_many(
            [str(root / p) for p in present], root=root, cache=self.cache, content=content
        )
        result = {p: fp for p, fp in zip(present, found, strict=True)}
        if urls:
            from auditpipe.storage.objects import fingerprint_urls

            state = self.cache.path.parent if self.cache is not None else None
            result.update(fingerprint_urls(urls, content=content, state_dir=state))
        return result

    def params_for(self, stage: StageSpec) -> dict[str, Any]:
        """The values ``stage`` reads (see ``StageInputs.params_for``)."""
        return self._inputs.params_for(stage)

    def suites_for(self, stage: StageSpec) -> dict[str, str]:
        return self._inputs.suites_for(stage)

    def assess(self, stage: StageSpec, *, force: bool = False) -> Assessment:
        """Is ``stage`` up to date right now? If not, why not."""
        found = self._assess(stage, force)
        self.assessed[stage.name] = found
        return found

    def _assess(self, stage: StageSpec, force: bool) -> Assessment:
        if stage.frozen and not force:
            # DVC's frozen: never re-run, whatever changed; but its outputs must exist.
            outputs = self.fingerprints(stage.all_outputs)
            lost = [p for p in stage.all_outputs if p not in outputs]
            if lost:
                why = f"frozen, but output {lost[0]} is missing: restore it or unfreeze the stage"
                return Assessment(stage.name, None, False, reasons=(why,))
            return Assessment(stage.name, None, True, reasons=("frozen",))
        deps = self.fingerprints(stage.deps, content=stage.content)
        missing = [d for d in stage.deps if d not in deps]
        deleted = missing_params(self.params_doc, stage.params)
        params = self.params_for(stage) if not deleted else {}
        suites = self.suites_for(stage)
        outputs = self.fingerprints(stage.all_outputs)
        if missing or deleted:
            file = self.spec.params_file
            return Assessment(
                stage.name,
                None,
                False,
                reasons=(
                    *(_missing(self.spec.root, d) for d in missing),
                    *(
                        f"deleted: {k} (from {file}; add it back, or remove it from "
                        f"the stage's params)"
                        for k in deleted
                    ),
                ),
                deps=deps,
                params=params,
                suites=suites,
                outputs=outputs,
            )
        key = stage_key(stage, {p: fp.sha256 for p, fp in deps.items()}, params, suites)

        def verdict(
            up_to_date: bool, run: str | None, reasons: list[str], cached: tuple[str, ...] = ()
        ) -> Assessment:
            return Assessment(
                stage.name,
                key,
                up_to_date,
                run,
                tuple(reasons),
                deps,
                params,
                suites,
                outputs,
                cached,
            )

        if force:
            return verdict(False, None, ["forced"])
        if stage.always_changed:
            return verdict(False, None, ["always changed"])
        candidates = self._runs(self.ledger.ids_for_stage_key(key), stage.name)
        refused: list[str] = []
        for entry, _run in candidates:
            if not _outputs_match(entry, stage, outputs):
                continue
            refusal = self.trust.refusal(entry)  # verified only when it would count
            if refusal is not None:
                refused.append(f"its matching run {entry.id[:12]} {refusal}; re-run `{stage.name}`")
                continue
            blocked = self._current_failed(stage, entry.id, outputs)
            if blocked:  # re-running is the way out: restoring changes nothing
                return verdict(False, None, [blocked])
            return verdict(True, entry.id, [])
        trusted = [(e, r) for e, r in candidates if self.trust.trusted(e)]
        reasons = self._distrusted(refused[:1]) or self._why_stale(
            stage, trusted, outputs, deps, params, suites
        )
        return verdict(False, None, reasons, self._restorable(stage, trusted, outputs))

    def _distrusted(self, reasons: list[str]) -> list[str]:
        """``reasons`` (runs that do not count), and what to do when nothing can count."""
        way_out = self.trust.way_out()
        return [*reasons, way_out] if reasons and way_out else reasons

    def _restorable(
        self,
        stage: StageSpec,
        candidates: list[tuple[Entry, StageRun]],
        outputs: Mapping[str, Fingerprint],
    ) -> tuple[str, ...]:
        """Runs whose products the cache may put back: not those whose very bytes a
        newer run of the stage judged failing (restoring them would bring back data
        a gate refused; re-running is the way out), nor those whose object-store
        outputs are gone or changed (no cache holds those; only a run makes them)."""
        if not candidates:
            return ()
        from auditpipe.provenance.current import runs_of

        failed = [  # untrusted failed runs count against nothing
            (run.finished_at, _products(run))
            for _id, run in runs_of(self.ledger, stage.name, self.trust)
            if run.status == "gate_failed"
        ]
        return tuple(
            entry.id
            for entry, run in candidates
            if _objects_intact(entry, stage, outputs)
            and not any(when > run.finished_at and made == _products(run) for when, made in failed)
        )

    def _current_failed(
        self, stage: StageSpec, matched: str, outputs: Mapping[str, Fingerprint]
    ) -> str | None:
        """Why the stage is not up to date although ``matched`` has its key and
        outputs: its current run (``provenance.current``, among the runs the trust
        set vouches for, as for gate and verify) failed a gate."""
        from auditpipe.provenance.current import current_run, failed_gates, runs_of

        if all(entry_id == matched for entry_id in self.ledger.ids_for_stage(stage.name)):
            return None  # its only run: nothing newer can have failed (the common no-op)
        if all(run.status != "gate_failed" for _id, run in runs_of(self.ledger, stage.name)):
            return None  # no run failed a gate, whoever signed it: nothing to verify
        current = current_run(
            self.ledger,
            stage.name,
            self.spec.root,
            lambda name: outputs[name].sha256 if name in outputs else None,
            self.trust,
        )
        if current is None or current.id == matched or current.run.status != "gate_failed":
            return None
        return (
            f"its current run {current.id[:12]} failed {failed_gates(current.run)} "
            f"on these same outputs; re-run `{stage.name}`"
        )

    def _runs(self, ids: Sequence[str], stage: str) -> list[tuple[Entry, StageRun]]:
        """Successful runs of ``stage`` among ``ids``, newest first."""
        runs = []
        for entry_id in ids:
            entry = self.ledger.get(entry_id)
            run = entry.signed.stage_run()
            if run is not None and run.stage == stage and run.status == "succeeded":
                runs.append((entry, run))
        runs.sort(key=lambda pair: pair[1].finished_at, reverse=True)
        return runs

    def latest_run(self, stage: str) -> tuple[Entry, StageRun] | None:
        """The newest successful run of ``stage`` by a trusted signer."""
        runs = self._runs(self.ledger.ids_for_stage(stage), stage)
        return next(((e, r) for e, r in runs if self.trust.trusted(e)), None)

    def _why_stale(
        self,
        stage: StageSpec,
        same_key: list[tuple[Entry, StageRun]],
        outputs: Mapping[str, Fingerprint],
        deps: Mapping[str, Fingerprint],
        params: Mapping[str, Any],
        suites: Mapping[str, str],
    ) -> list[str]:
        if same_key:
            entry, _run = same_key[0]
            return _output_reasons(entry, stage, outputs)
        latest = self.latest_run(stage.name)
        if latest is None:
            return self._never_run(stage.name)
        _entry, run = latest
        reasons: list[str] = []
        before = {m.name: m.digest.sha256 for m in run.materials}
        for path, fp in deps.items():
            old = before.get(path)
            if old is None:
                reasons.append(f"new dependency {path}")
            elif old != fp.sha256:
                reasons.append(f"dependency {path} changed: {old[:12]} -> {fp.sha256[:12]}")
        for path in before:
            if path not in deps:
                reasons.append(f"dependency {path} removed")
        old_params, new_params = flatten(run.params), flatten(params)
        for key in sorted(set(new_params) | set(old_params)):
            if new_params.get(key) != old_params.get(key):
                old, new = _show(old_params.get(key)), _show(new_params.get(key))
                reasons.append(f"param {key} changed: {old} -> {new}")
        old_suites = {v.suite_path: v.suite_digest.sha256 for v in run.validations}
        for suite, digest in suites.items():
            if suite in old_suites and old_suites[suite] != digest:
                reasons.append(f"validation suite {suite} changed")
        return reasons or _definition_reasons(stage, run)

    def _never_run(self, stage: str) -> list[str]:
        """No trusted successful run: "never run", or whose runs do not count."""
        runs = self._runs(self.ledger.ids_for_stage(stage), stage)
        if not runs:
            return ["never run"]
        entry, _run = runs[0]
        why = self.trust.refusal(entry)
        return self._distrusted(
            [f"no run by a trusted signer: its latest run {entry.id[:12]} {why}"]
        )


def _outputs_match(entry: Entry, stage: StageSpec, outputs: Mapping[str, Fingerprint]) -> bool:
    return not _output_reasons(entry, stage, outputs)


def _output_reasons(
    entry: Entry, stage: StageSpec, outputs: Mapping[str, Fingerprint]
) -> list[str]:
    recorded = {s.name: s.sha256 for s in entry.signed.statement.subject}
    reasons = []
    for path in stage.all_outputs:
        fp = outputs.get(path)
        if fp is None and is_url(path):
            reasons.append(f"output {path} missing from its store (no cache holds it: re-run)")
        elif fp is None:
            reasons.append(f"output {path} missing")
        elif recorded.get(path) != fp.sha256:
            reasons.append(f"output {path} modified since run {entry.id[:12]}")
    return reasons


def _objects_intact(entry: Entry, stage: StageSpec, outputs: Mapping[str, Fingerprint]) -> bool:
    """Whether every object-store output is still the one ``entry`` signed."""
    urls = [path for path in stage.all_outputs if is_url(path)]
    if not urls:
        return True
    recorded = {s.name: s.sha256 for s in entry.signed.statement.subject}
    return all(path in outputs and outputs[path].sha256 == recorded.get(path) for path in urls)


def _definition_reasons(stage: StageSpec, run: StageRun) -> list[str]:
    """What in the stage's definition differs from what its latest run recorded.

    A run records its command, its products and its gates; the options it does
    not record (``wdir``, ``env``, ``content``) are named together when nothing
    recorded explains the change.
    """
    reasons = []
    if run.command is not None and run.command != stage.cmd:
        reasons.append(f"command changed: {run.command!r} -> {stage.cmd!r}")
    made = {p.name for p in run.products}
    for path in stage.all_outputs:
        if path not in made:
            reasons.append(f"new output {path}")
    for path in sorted(made - set(stage.all_outputs)):
        reasons.append(f"output {path} removed")
    gates = {(v.data, v.suite_path) for v in run.validations}
    for data, suite in stage.validate:
        if (data, suite) not in gates:
            reasons.append(f"validate: added {data} -> {suite}")
    for data, suite in sorted(gates - set(stage.validate)):
        reasons.append(f"validate: removed {data} -> {suite}")
    if not reasons:
        reasons.append("stage definition changed: wdir, env or content (not recorded in runs)")
    return reasons


def _missing(root: Path, dep: str) -> str:
    """Why a dependency is missing, and what to do when DVC tracks it."""
    parts = dep.split("/")
    for i in range(len(parts), 0, -1):
        tracker = "/".join(parts[:i]) + ".dvc"
        if (root / tracker).is_file():
            return f"dependency {dep} is missing (tracked by {tracker}: run `dvc pull`)"
    return f"dependency {dep} is missing"


def _show(value: Any) -> str:
    text = repr(value) if value is not None else "unset"
    return text if len(text) <= 40 else text[:37] + "..."


def _products(run: StageRun) -> dict[str, str]:
    return {p.name: p.digest.sha256 for p in run.products}
