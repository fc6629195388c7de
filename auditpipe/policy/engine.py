"""Evaluate a policy over an artifact's lineage: allow or deny, one reason per rule.

Always checked first: the lineage is intact (the artifact was produced by a
signed run, every entry on the chain verifies, every digest link matches) and
the required stages are in it. Then each rule in the file, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditpipe.lock.witness import Witnesses
from auditpipe.pipeline.diff import flatten
from auditpipe.policy.facts import build_facts
from auditpipe.policy.load import LoadedPolicy
from auditpipe.policy.model import Rule
from auditpipe.policy.staleness import TreeState, stale_reasons
from auditpipe.provenance.lineage import Lineage


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    artifact: str
    sha256: str
    policy: str
    results: list[RuleResult] = field(default_factory=list)

    @property
    def allow(self) -> bool:
        return all(r.passed for r in self.results)

    def ordered(self) -> list[RuleResult]:
        """Failures first, then passes, each in policy order."""
        return [r for r in self.results if not r.passed] + [r for r in self.results if r.passed]


def decide(
    loaded: LoadedPolicy,
    lineage: Lineage,
    tree: TreeState,
    *,
    baseline: Lineage | None = None,
    base_ref: str | None = None,
    witnesses: Witnesses | None = None,
) -> Decision:
    policy = loaded.policy
    facts = build_facts(lineage)
    # Untrusted runs never count as evidence: when the policy has no
    # `trusted_signers` rule to say so, the lineage check does.
    signers_ruled = any(r.kind == "trusted_signers" for r in policy.rules)
    results = [_intact(lineage, with_signers=not signers_ruled)]
    missing = [s for s in policy.require.stages if s not in facts["stages"]]
    if policy.require.stages:
        results.append(
            RuleResult(
                f"required stages: {', '.join(policy.require.stages)}",
                not missing,
                f"missing from the lineage: {', '.join(missing)}" if missing else "all present",
            )
        )
    for index, rule in enumerate(policy.rules):
        if rule.witnessed is not None:
            results.append(_witnessed(rule, lineage, witnesses))
            continue
        results.append(_evaluate(rule, index, loaded, lineage, facts, tree, baseline, base_ref))
    return Decision(lineage.artifact, lineage.sha256, policy.name, results)


def _witnessed(rule: Rule, lineage: Lineage, witnesses: Witnesses | None) -> RuleResult:
    """Enough listed witnesses cosigned a checkpoint that covers every run of the lineage."""
    assert rule.witnessed is not None
    w = rule.witnessed
    if witnesses is None:
        return RuleResult(rule.title, False, "no witness information (no ledger checkpoint)")
    ids = [n.id for n in lineage.all_runs()]
    unplaced = [i[:12] for i in ids if i not in witnesses.positions]
    if unplaced:
        return RuleResult(rule.title, False, f"runs not on the ledger: {', '.join(unplaced)}")
    needed = max((witnesses.positions[i] + 1 for i in ids), default=0)
    covering = [k for k in w.by if witnesses.sizes.get(k, 0) >= needed]
    detail = (
        f"{len(covering)} of {w.min} required witness(es) cosigned a checkpoint of at least "
        f"{needed} entries" + (f" ({', '.join(k[:12] for k in covering)})" if covering else "")
    )
    return RuleResult(rule.title, len(covering) >= w.min, detail)


def _intact(lineage: Lineage, *, with_signers: bool) -> RuleResult:
    problems = list(lineage.problems) + [
        f"run {n.id[:12]} ({n.stage}): {p}" for n in lineage.all_runs() for p in n.problems
    ]
    if with_signers:
        problems += [
            f"run {n.id[:12]} ({n.stage}): {n.signature_problem}"
            for n in lineage.all_runs()
            if n.signature_problem
        ]
    if problems:
        return RuleResult("lineage is intact", False, "; ".join(problems))
    return RuleResult(
        "lineage is intact",
        True,
        f"{len(lineage.runs)} signed run(s), {len(lineage.sources)} source(s)",
    )


def _evaluate(
    rule: Rule,
    index: int,
    loaded: LoadedPolicy,
    lineage: Lineage,
    facts: dict[str, Any],
    tree: TreeState,
    baseline: Lineage | None,
    base_ref: str | None,
) -> RuleResult:
    nodes = lineage.all_runs()
    title = rule.title
    if rule.kind == "gates_passed":
        bad = [p for n in nodes for p in n.gate_problems]
        gates = sum(len(n.run.validations) for n in nodes if n.run)
        return RuleResult(title, not bad, "; ".join(bad) if bad else f"{gates} gate(s) passed")
    if rule.kind == "no_dirty_code":
        dirty = [f"{n.stage} ({n.id[:12]})" for n in nodes if n.run and n.run.code.dirty]
        return RuleResult(
            title,
            not dirty,
            f"dirty code in {', '.join(dirty)}" if dirty else "every run's code was committed",
        )
    if rule.kind == "trusted_signers":
        bad = [
            f"{n.stage} ({n.id[:12]}): {n.signature_problem}" for n in nodes if n.signature_problem
        ]
        return RuleResult(
            title, not bad, "; ".join(bad) if bad else "every run is signed by a trusted signer"
        )
    if rule.kind == "not_stale":
        bad = [f"{n.stage}: {r}" for n in nodes if n.run for r in stale_reasons(n.run, tree)]
        bad += [f"source {s.name}: {p}" for s in lineage.sources.values() for p in s.problems]
        return RuleResult(
            title, not bad, "; ".join(bad) if bad else "every run matches the tree being judged"
        )
    if rule.metric is not None:
        m = rule.metric
        value = _metric(facts, m.stage, m.name)
        if value is None:
            return RuleResult(title, False, f"no metric {m.name} in the {m.stage} run")
        ok = (m.min is None or value >= m.min) and (m.max is None or value <= m.max)
        return RuleResult(title, ok, f"{m.stage}.{m.name} = {value:g}")
    if rule.no_regression is not None:
        r = rule.no_regression
        now = _metric(facts, r.stage, r.metric)
        if now is None:
            return RuleResult(title, False, f"no metric {r.metric} in the {r.stage} run")
        if baseline is None or not baseline.runs:
            where = f" at {base_ref}" if base_ref else " (no --base given)"
            return RuleResult(title, True, f"no baseline lineage{where}; {r.metric} = {now:g}")
        before = _metric(build_facts(baseline), r.stage, r.metric)
        if before is None:
            return RuleResult(title, True, f"baseline has no {r.metric}; now {now:g}")
        delta = now - before if r.direction == "higher_is_better" else before - now
        ok = delta >= -r.tolerance
        return RuleResult(
            title,
            ok,
            f"{r.metric} {before:g} -> {now:g}"
            f"{'' if ok else f' (worse by {abs(delta):g} > {r.tolerance:g})'}",
        )
    if rule.cel is not None:
        return _cel(title, loaded.programs[index], facts)
    return RuleResult(title, False, f"unknown rule {rule.kind}")


def _metric(facts: dict[str, Any], stage: str, name: str) -> float | None:
    run = facts["stages"].get(stage)
    if run is None:
        return None
    value = flatten(run.get("metrics") or {}).get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cel(title: str, program: Any, facts: dict[str, Any]) -> RuleResult:
    from celpy.adapter import json_to_cel
    from celpy.celtypes import BoolType
    from celpy.evaluation import CELEvalError

    try:
        activation = {k: json_to_cel(v) for k, v in facts.items()}
        result = program.evaluate(activation)
    except Exception as exc:  # CEL evaluation errors have no common base
        return RuleResult(title, False, f"CEL evaluation error: {exc}")
    if isinstance(result, CELEvalError) or not isinstance(result, bool | BoolType):
        return RuleResult(title, False, f"expression did not give true/false: {result}")
    return RuleResult(title, bool(result), "true" if result else "false")
