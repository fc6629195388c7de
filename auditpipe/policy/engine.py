"""Evaluate a policy over an artifact's lineage: allow or deny, one reason per rule.

Always checked first: the lineage is intact (the artifact was produced by a
signed run, every entry on the chain verifies, every digest link matches) and
the required stages are in it. Then each rule in the file, in order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditpipe.approvals.assess import ApprovalContext, judge_rule
from auditpipe.lock.witness import Witnesses
from auditpipe.pipeline.diff import flatten
from auditpipe.policy.facts import build_facts
from auditpipe.policy.load import LoadedPolicy
from auditpipe.policy.model import BUILTIN_RULES, Rule
from auditpipe.policy.staleness import TreeState, stale_reasons
from auditpipe.provenance.lineage import Lineage, RunNode


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    detail: str
    missing: bool = False
    """The rule had nothing to check; ``passed`` is then the policy's ``on_missing``."""


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
    approvals: ApprovalContext | None = None,
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
        if rule.approvals is not None:  # separation of duties: auditpipe/approvals/assess.py
            passed, detail = judge_rule(approvals, lineage, rule.approvals)
            results.append(RuleResult(rule.title, passed, detail))
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

    def nothing(detail: str) -> RuleResult:
        allowed = rule.on_missing == "allow"
        how = "allowed by on_missing: allow" if allowed else "denied: on_missing is deny"
        return RuleResult(title, allowed, f"{detail} ({how})", missing=True)

    if rule.kind in BUILTIN_RULES and not any(n.run for n in nodes):
        return nothing("no runs on this lineage")
    if rule.kind == "gates_passed":
        bad = [p for n in nodes for p in n.gate_problems]
        gates = sum(len(n.run.validations) for n in nodes if n.run)
        if bad:
            return RuleResult(title, False, "; ".join(bad))
        return (
            RuleResult(title, True, f"{gates} gate(s) passed")
            if gates
            else nothing("no gates on this lineage")
        )
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
            return nothing(f"no metric {m.name} in the {m.stage} run on this lineage")
        ok = (m.min is None or value >= m.min) and (m.max is None or value <= m.max)
        return RuleResult(title, ok, f"{m.stage}.{m.name} = {value:g}")
    if rule.no_regression is not None:
        r = rule.no_regression
        now = _metric(facts, r.stage, r.metric)
        if now is None:
            return nothing(f"no metric {r.metric} in the {r.stage} run on this lineage")
        if baseline is None or not baseline.runs:
            where = f"at {base_ref}" if base_ref else "(no --base given)"
            return nothing(f"no baseline {where}; {r.metric} = {now:g}")
        before = _metric(build_facts(baseline), r.stage, r.metric)
        if before is None:
            return nothing(f"no {r.metric} in the baseline at {base_ref}; now {now:g}")
        delta = now - before if r.direction == "higher_is_better" else before - now
        ok = delta >= -r.tolerance
        return RuleResult(
            title,
            ok,
            f"{r.metric} {before:g} -> {now:g}"
            f"{'' if ok else f' (worse by {abs(delta):g} > {r.tolerance:g})'}",
        )
    if rule.reproduced is not None:
        return _reproduced(title, rule.reproduced.stages, nodes, nothing)
    if rule.cel is not None:
        return _cel(title, rule.cel.expr, loaded.programs[index], facts)
    return RuleResult(title, False, f"unknown rule {rule.kind}")


def _reproduced(
    title: str, stages: list[str], nodes: list[RunNode], nothing: Callable[[str], RuleResult]
) -> RuleResult:
    """Each named stage's run on the lineage has a trusted reproduction that matched."""
    on_lineage = {n.stage for n in nodes if n.run}
    absent = [s for s in stages if s not in on_lineage]
    if len(absent) == len(stages):
        return nothing(f"no run of {', '.join(stages)} on this lineage")
    bad, good = [], []
    for node in nodes:
        if not node.run or node.stage not in stages:
            continue
        if any(matches for _id, matches in node.reproductions):
            good.append(f"{node.stage} ({node.id[:12]})")
        elif node.reproductions:
            last = node.reproductions[-1][0]
            bad.append(
                f"{node.stage} run {node.id[:12]} gave different products when reproduced "
                f"(entry {last[:12]})"
            )
        else:
            bad.append(
                f"{node.stage} run {node.id[:12]} was never reproduced: "
                f"run `auditpipe reproduce {node.id[:12]}`"
            )
    bad += [f"no run of {s} on this lineage" for s in absent]
    return RuleResult(title, not bad, "; ".join(bad) if bad else f"reproduced: {', '.join(good)}")


def _metric(facts: dict[str, Any], stage: str, name: str) -> float | None:
    run = facts["stages"].get(stage)
    if run is None:
        return None
    value = flatten(run.get("metrics") or {}).get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cel(title: str, expr: str, program: Any, facts: dict[str, Any]) -> RuleResult:
    from celpy.adapter import json_to_cel
    from celpy.celtypes import BoolType

    values = "; ".join(referenced_facts(expr, facts))
    try:
        activation = {k: json_to_cel(v) for k, v in facts.items()}
        result = program.evaluate(activation)
    except Exception as exc:  # CEL evaluation errors have no common base
        result = exc
    if isinstance(result, Exception):
        reason = _one_line(result)
        return RuleResult(
            title, False, f"CEL rule {title!r} could not be evaluated: {reason}; {values}"
        )
    if not isinstance(result, bool | BoolType):
        return RuleResult(title, False, f"CEL rule {title!r} gave {result!r}, not true/false")
    return RuleResult(title, bool(result), "true" if result else f"false: {values}")


def _one_line(error: Exception) -> str:
    """celpy errors carry (message, exception type, cause) as args; keep the message."""
    first = error.args[0] if error.args else str(error)
    return " ".join(str(first).split())


_REFERENCE = re.compile(r"(?<![\w.\"'])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")


def referenced_facts(expr: str, facts: dict[str, Any]) -> list[str]:
    """``path = value`` for each dotted fact path the expression names
    (``absent: no 'evaluate' in stages`` when the path stops short)."""
    shown: list[str] = []
    for path in dict.fromkeys(_REFERENCE.findall(expr)):
        head, *rest = path.split(".")
        if head not in facts:
            continue
        value: Any = facts[head]
        where = head
        for part in rest:
            if isinstance(value, dict) and part in value:
                value, where = value[part], f"{where}.{part}"
            elif isinstance(value, dict):
                known = ", ".join(sorted(value)) or "nothing"
                value = _Absent(f"absent: no {part!r} in {where} (it has {known})")
                break
            else:
                break
        text = str(value) if isinstance(value, _Absent) else json.dumps(value, default=str)
        shown.append(f"{path} = {text if len(text) <= 80 else text[:77] + '...'}")
    return shown


class _Absent(str):
    """Marks a fact path that does not resolve."""
