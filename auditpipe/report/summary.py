"""Page 1 of the artifact report: the executive summary a reviewer signs.

What the model is (its card), whether it may ship and why, its key metrics
against the policy's thresholds, how it differs from the model now in
production, and who signed off (with empty signature lines for roles still
missing). Built from the same lineage and decision as the rest of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from auditpipe.errors import Error
from auditpipe.ledger.ledger import Ledger
from auditpipe.people import People, people_of
from auditpipe.pipeline.artifacts import ModelCard, card_for, card_version, project_cards
from auditpipe.pipeline.diff import flatten
from auditpipe.policy.engine import Decision
from auditpipe.policy.facts import build_facts
from auditpipe.policy.load import LoadedPolicy
from auditpipe.provenance.lineage import Lineage
from auditpipe.report.drift import DriftView, lineage_drift
from auditpipe.report.views import Row
from auditpipe.signing.interface import SignerIdentity
from auditpipe.trust.root import TrustRoot

PRODUCTION = "production"


@dataclass(frozen=True)
class MetricView:
    name: str
    value: str
    threshold: str
    passed: bool | None
    """None when no policy rule bounds the metric."""


@dataclass(frozen=True)
class ChangeView:
    metric: str
    production: str
    now: str
    change: str


@dataclass(frozen=True)
class ApprovalView:
    person: str
    role: str
    time: str
    comment: str
    ticket: str
    counted: bool
    reason: str
    id: str
    keyid: str


@dataclass(frozen=True)
class Summary:
    """Everything page 1 prints."""

    name: str
    version: str
    owner: str
    risk_tier: str
    intended_use: str
    limitations: str
    inventory_id: str
    data_classification: str
    card_declared: bool
    unrecorded: str
    """Why the artifact has no signed lineage (unrecorded or changed since), or ""."""
    reasons: list[str] = field(default_factory=list)
    metrics: list[MetricView] = field(default_factory=list)
    production: str = ""
    changes: list[ChangeView] = field(default_factory=list)
    drift: list[DriftView] = field(default_factory=list)
    approvals: list[ApprovalView] = field(default_factory=list)
    approvals_judged: bool = False
    signature_lines: list[str] = field(default_factory=list)
    card_meta: list[Row] = field(default_factory=list)


def executive_summary(
    ledger: Ledger,
    lineage: Lineage,
    decision: Decision | None,
    policy: LoadedPolicy | None,
    now: datetime,
    trust: TrustRoot,
) -> Summary:
    """The summary of one artifact's report (see the module docstring)."""
    workspace = ledger.workspace
    try:
        spec = project_cards(workspace.root)
    except Error:
        spec = None  # a broken pipeline file must not stop the report; gate says why
    card = card_for(spec, lineage.artifact)
    meta = dict(card.meta) if card else {}
    known = (
        "owner",
        "risk_tier",
        "intended_use",
        "limitations",
        "inventory_id",
        "data_classification",
        "version",
    )
    unrecorded = (
        ""
        if lineage.root is not None
        else (
            f"No signed run on the ledger produced these bytes (sha256 {lineage.sha256}). "
            "The file was never recorded, or it changed after its run: "
            "it may have been tampered with."
        )
    )
    reasons = (
        [f"{r.rule}: {r.detail}" for r in decision.ordered() if not r.passed]
        if decision
        else list(lineage.failures())
    )
    summary = Summary(
        name=card.name if card else lineage.artifact,
        version=card_version(card, workspace) if card else "unversioned",
        owner=_meta(card, "owner"),
        risk_tier=_meta(card, "risk_tier"),
        intended_use=_meta(card, "intended_use"),
        limitations=_meta(card, "limitations"),
        inventory_id=_meta(card, "inventory_id"),
        data_classification=_meta(card, "data_classification"),
        card_declared=card is not None,
        unrecorded=unrecorded,
        reasons=reasons,
        metrics=_metrics(lineage, policy),
        card_meta=[Row(k, str(v)) for k, v in meta.items() if k not in known],
    )
    summary = _production(ledger, lineage, policy, summary, trust)
    return _approvals(ledger, lineage, policy, card, now, summary, trust)


def _meta(card: ModelCard | None, name: str) -> str:
    value = card.field(name) if card else None
    return value or "not stated"


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def _metrics(lineage: Lineage, policy: LoadedPolicy | None) -> list[MetricView]:
    stages = build_facts(lineage)["stages"] if lineage.root else {}
    views: list[MetricView] = []
    bounded: set[tuple[str, str]] = set()
    for rule in policy.policy.rules if policy else []:
        if rule.metric is None:
            continue
        m = rule.metric
        bounded.add((m.stage, m.name))
        value = _number(flatten((stages.get(m.stage) or {}).get("metrics") or {}).get(m.name))
        threshold = " and ".join(
            f"{op} {v:g}" for op, v in ((">=", m.min), ("<=", m.max)) if v is not None
        )
        passed = (
            value is not None
            and (m.min is None or value >= m.min)
            and (m.max is None or value <= m.max)
        )
        views.append(
            MetricView(
                f"{m.stage}.{m.name}",
                "missing" if value is None else f"{value:g}",
                threshold,
                passed,
            )
        )
    for stage, run in stages.items():
        for name, value in sorted(flatten(run.get("metrics") or {}).items()):
            if (stage, name) not in bounded and len(views) < 8:
                views.append(MetricView(f"{stage}.{name}", str(value), "", None))
    return views


def _production(
    ledger: Ledger,
    lineage: Lineage,
    policy: LoadedPolicy | None,
    summary: Summary,
    trust: TrustRoot,
) -> Summary:
    """The model now in production at this path, and how this one differs from it."""
    latest: tuple[str, str, str] | None = None
    for entry_id in ledger.ids_for_kind("promotion"):
        try:
            promotion = ledger.get(entry_id).signed.promotion()
        except Error:
            continue
        if (
            promotion is None
            or promotion.stage != PRODUCTION
            or promotion.artifact != lineage.artifact
        ):
            continue
        candidate = (promotion.promoted_at, promotion.digest.sha256, entry_id)
        if latest is None or candidate > latest:
            latest = candidate
    if latest is None:
        return replace(
            summary,
            production=f"Nothing at {lineage.artifact} has been promoted to production yet.",
        )
    when, digest, entry_id = latest
    if digest == lineage.sha256:
        return replace(
            summary,
            production=f"This artifact is the one in production "
            f"(promoted {when[:19]}Z, entry {entry_id[:12]}).",
        )
    from auditpipe.policy.trust import policy_verifier
    from auditpipe.provenance.lineage import walk

    verifier = policy_verifier(trust, policy.policy if policy else None)
    before = walk(
        ledger, verifier, lineage.artifact, digest, root=ledger.workspace.root, check_sources=False
    )
    text = f"In production: sha256 {digest[:12]}, promoted {when[:19]}Z (entry {entry_id[:12]})."
    return replace(
        summary,
        production=text,
        changes=_changes(before, lineage),
        drift=lineage_drift(before, lineage),
    )


def _changes(before: Lineage, now: Lineage) -> list[ChangeView]:
    old = build_facts(before)["stages"] if before.root else {}
    new = build_facts(now)["stages"] if now.root else {}
    views = []
    for stage in sorted(set(old) & set(new)):
        a = flatten(old[stage].get("metrics") or {})
        b = flatten(new[stage].get("metrics") or {})
        for name in sorted(set(a) | set(b)):
            x, y = _number(a.get(name)), _number(b.get(name))
            change = f"{y - x:+g}" if x is not None and y is not None else ""
            views.append(
                ChangeView(f"{stage}.{name}", _show(a.get(name)), _show(b.get(name)), change)
            )
    return views


def _show(value: Any) -> str:
    return "—" if value is None else str(value)


def _approvals(
    ledger: Ledger,
    lineage: Lineage,
    policy: LoadedPolicy | None,
    card: ModelCard | None,
    now: datetime,
    summary: Summary,
    trust: TrustRoot,
) -> Summary:
    from auditpipe.approvals.assess import approval_context, approval_entries, assess
    from auditpipe.policy.approvals_rule import ApprovalsRule

    rule = next((r.approvals for r in policy.policy.rules if r.approvals), None) if policy else None
    ctx = replace(approval_context(ledger, trust, policy.sha256 if policy else "", card), now=now)
    if rule is None:  # no rule: list what is recorded, judged against no requirement
        roles = {
            a.role: 1 for _e, a in approval_entries(ledger, lineage.sha256) if a.revokes is None
        }
        if not roles:
            return summary
        rule = ApprovalsRule(roles=roles)
        judged = False
    else:
        judged = True
    tally = assess(ctx, lineage, rule)
    views = [
        ApprovalView(
            a.signer,
            a.role,
            a.approved_at[:19].replace("T", " ") + " UTC",
            a.comment or "",
            a.ticket or "",
            a.counted,
            a.reason,
            a.id,
            a.keyid or "",
        )
        for a in tally.approvals
    ]
    lines = [role for role, n in tally.missing.items() for _ in range(n)] if judged else []
    return replace(summary, approvals=views, approvals_judged=judged, signature_lines=lines)


def name_signers(document: Any, people: People) -> Any:
    """The report with each run's signer shown as the person (keyid stays in the appendix)."""
    runs = []
    for run in document.runs:
        s = run.signer
        who = SignerIdentity(
            kind=s.kind, keyid=s.keyid or None, identity=s.identity or None, issuer=s.issuer or None
        )
        person = people.for_signer(who)
        runs.append(replace(run, signer=replace(s, person=person.describe() if person else "")))
    return replace(document, runs=runs)


def with_summary(
    ledger: Ledger,
    lineage: Lineage,
    decision: Decision | None,
    policy: LoadedPolicy | None,
    document: Any,
    now: datetime,
    trust: TrustRoot,
) -> Any:
    """The artifact report with page 1's summary and people's names (from the trust
    source's people.yaml) filled in."""
    document = name_signers(document, people_of(trust))
    return replace(
        document, summary=executive_summary(ledger, lineage, decision, policy, now, trust)
    )
