"""Render decisions and lineages for people: text, Markdown (pull requests), JSON."""

from __future__ import annotations

from typing import Any

from auditpipe.policy.engine import Decision, RuleResult
from auditpipe.provenance.lineage import Lineage
from auditpipe.trust.root import TrustRoot


def decision_json(decision: Decision, trust: TrustRoot | None = None) -> dict[str, Any]:
    extra = {"trust": trust.as_json()} if trust is not None else {}
    return {
        **extra,
        "artifact": decision.artifact,
        "sha256": decision.sha256,
        "policy": decision.policy,
        "decision": "allow" if decision.allow else "deny",
        "rules": [
            {"rule": r.rule, "passed": r.passed, "missing": r.missing, "detail": r.detail}
            for r in decision.ordered()
        ],
    }


def _mark(result: RuleResult, passed: str, nothing: str, failed: str) -> str:
    """A rule with nothing to check is never shown as passed, even when allowed."""
    if not result.passed:
        return failed
    return nothing if result.missing else passed


def decision_text(decision: Decision) -> list[str]:
    verdict = "ALLOW" if decision.allow else "DENY"
    lines = [
        f"{verdict} {decision.artifact} (sha256 {decision.sha256[:12]}) "
        f"under policy {decision.policy}"
    ]
    for r in decision.ordered():
        lines.append(f"  {_mark(r, '✓', '○', '✗')} {r.rule}: {r.detail}")
    return lines


def decisions_markdown(decisions: list[Decision], trust: TrustRoot | None = None) -> str:
    allow = all(d.allow for d in decisions)
    out = [f"## auditpipe gate: {'✅ allow' if allow else '❌ deny'}", ""]
    if trust is not None:
        out += [trust_markdown(trust), ""]
    for d in decisions:
        out += [
            f"### `{d.artifact}` — {'allow' if d.allow else '**deny**'}",
            "",
            f"sha256 `{d.sha256}` · policy `{d.policy}`",
            "",
            "| | rule | detail |",
            "|---|---|---|",
        ]
        for r in d.ordered():
            detail = r.detail.replace("|", "\\|")
            out.append(f"| {_mark(r, '✅', '⚪', '❌')} | {r.rule} | {detail} |")
        out.append("")
    return "\n".join(out)


def trust_markdown(trust: TrustRoot) -> str:
    """One Markdown line saying where keys and policy came from."""
    if trust.from_working_tree:
        return (
            "⚠️ Trust from the **working tree**: keys and policy were read from files this "
            "change can edit. Pass `--trust-ref` (or set `AUDITPIPE_TRUST_REF`)."
        )
    return f"Trust from `{trust.ref}` (commit `{trust.commit}`)."


def lineage_json(lineage: Lineage) -> dict[str, Any]:
    return {
        "artifact": lineage.artifact,
        "sha256": lineage.sha256,
        "ok": lineage.ok,
        "root": lineage.root,
        "problems": list(lineage.failures()),
        "runs": [
            {
                "id": n.id,
                "stage": n.stage,
                "ok": n.ok,
                "problems": n.all_problems(),
                "inputs": n.inputs,
                "sources": n.sources,
                "signer": n.signer.describe() if n.signer else None,
                "reproductions": [
                    {"entry": entry_id, "matches": matches} for entry_id, matches in n.reproductions
                ],
            }
            for n in lineage.all_runs()
        ],
        "sources": [
            {
                "name": s.name,
                "sha256": s.sha256,
                "current": s.current,
                "ok": s.ok,
                "problems": s.problems,
            }
            for s in lineage.sources.values()
        ],
    }
