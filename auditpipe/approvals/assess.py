"""Separation of duties: which approvals of an artifact count, and which roles are missing.

An approval counts for its role only if: its signature verifies under the
people's trust set; its signer is a person holding that role; that person is
not an author of the lineage; they have not already counted for another role
(or this one) on this artifact; it is not revoked by the same person nor
expired; and the artifact digest, lineage entry ids, model card and policy
it was bound to are still the ones being judged. Every approval that does not
count says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from auditpipe.approvals.authors import lineage_authors
from auditpipe.errors import Error
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.approval import Approval
from auditpipe.people import People, Person
from auditpipe.pipeline.artifacts import ModelCard
from auditpipe.policy.approvals_rule import ApprovalsRule
from auditpipe.provenance.lineage import Lineage
from auditpipe.signing.identities import claimed_signer
from auditpipe.signing.interface import SignerIdentity, Verifier
from auditpipe.trust.root import TrustRoot


@dataclass(frozen=True)
class ApprovalStatus:
    """One approval of the artifact and whether it counted."""

    id: str
    role: str
    signer: str
    """The person (or, for an unlisted signer, the key or identity)."""
    person: Person | None
    keyid: str | None
    approved_at: str
    comment: str | None
    ticket: str | None
    counted: bool
    reason: str
    """Why it did not count (empty when it did)."""


@dataclass(frozen=True)
class ApprovalTally:
    """The approvals of one artifact against one ``approvals`` rule."""

    required: dict[str, int]
    approvals: list[ApprovalStatus] = field(default_factory=list)

    def counted(self, role: str) -> list[ApprovalStatus]:
        return [a for a in self.approvals if a.counted and a.role == role]

    @property
    def missing(self) -> dict[str, int]:
        """Role -> how many more distinct people it needs."""
        return {
            role: need - len(self.counted(role))
            for role, need in self.required.items()
            if len(self.counted(role)) < need
        }

    @property
    def passed(self) -> bool:
        return not self.missing

    def detail(self) -> str:
        got = "; ".join(
            f"{role}: {', '.join(a.signer for a in self.counted(role))}"
            for role in self.required
            if self.counted(role)
        )
        if self.passed:
            return got
        missing = ", ".join(
            f"{role} ({n} more)" if n > 1 else role for role, n in self.missing.items()
        )
        parts = [f"missing approval by {missing}"]
        if got:
            parts.append(f"counted: {got}")
        parts += [
            f"not counted: {a.signer} as {a.role} ({a.id[:12]}): {a.reason}"
            for a in self.approvals
            if not a.counted
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class ApprovalContext:
    """What approvals are judged against, besides the lineage."""

    ledger: Ledger
    people: People
    verifier: Verifier
    policy_sha256: str
    card: ModelCard | None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def lineage_ids(lineage: Lineage) -> list[str]:
    """The entry ids an approval binds: every run on the chain and its consumers."""
    return sorted(node.id for node in lineage.all_runs())


def approval_entries(ledger: Ledger, sha256: str) -> list[tuple[Entry, Approval]]:
    """Approval and revocation entries naming this artifact digest, oldest first."""
    found = []
    for entry_id in ledger.ids_for_subject(sha256):
        try:
            entry = ledger.get(entry_id)
            approval = entry.signed.approval()
        except Error:
            continue
        if approval is not None and any(s.sha256 == sha256 for s in entry.signed.statement.subject):
            found.append((entry, approval))
    return sorted(found, key=lambda pair: (pair[1].approved_at, pair[0].id))


def assess(ctx: ApprovalContext, lineage: Lineage, rule: ApprovalsRule) -> ApprovalTally:
    """Which approvals of ``lineage``'s artifact count under ``rule`` (see the module doc)."""
    entries = approval_entries(ctx.ledger, lineage.sha256)
    signers: dict[str, tuple[SignerIdentity | None, str | None]] = {}
    for entry, _approval in entries:
        try:
            signers[entry.id] = (ctx.verifier.verify(entry.bundle), None)
        except Error as exc:
            signers[entry.id] = (None, exc.message)
    revoked: dict[str, str] = {}
    approvals = [(e, a) for e, a in entries if a.revokes is None]
    persons = {e.id: ctx.people.for_signer(signers[e.id][0]) for e, _a in entries}
    for entry, approval in entries:
        target = approval.revokes
        if target is None or persons.get(entry.id) is None:
            continue
        if persons.get(target) is not None and persons[target] == persons[entry.id]:
            revoked.setdefault(target, f"revoked by {entry.id[:12]} at {approval.approved_at}")
    authors = lineage_authors(ctx.ledger, lineage, ctx.people) if lineage.runs else {}
    current = lineage_ids(lineage)
    taken: dict[str, str] = {}  # person email -> role they counted for
    tally = ApprovalTally(dict(rule.roles))
    for entry, approval in approvals:
        signer, problem = signers[entry.id]
        person = persons[entry.id]
        reason = revoked.get(entry.id) or _reason(
            ctx, rule, lineage, current, approval, signer, problem, person
        )
        if not reason and person is not None:
            key = person.email.lower()
            if key in authors:
                reason = f"{person.name} is an author of this lineage ({authors[key]})"
            elif key in taken:
                reason = f"{person.name} already counted as {taken[key]} on this artifact"
        counted = not reason
        if counted and person is not None:
            taken[person.email.lower()] = approval.role
        shown = signer or _claimed(ctx, entry)
        tally.approvals.append(
            ApprovalStatus(
                id=entry.id,
                role=approval.role,
                signer=person.describe() if person else ctx.people.name_of(shown),
                person=person,
                keyid=shown.keyid if shown else None,
                approved_at=approval.approved_at,
                comment=approval.comment,
                ticket=approval.ticket,
                counted=counted,
                reason=reason,
            )
        )
    return tally


def _claimed(ctx: ApprovalContext, entry: Entry) -> SignerIdentity | None:
    try:
        return claimed_signer(entry.bundle)
    except Error:
        return None


def _reason(
    ctx: ApprovalContext,
    rule: ApprovalsRule,
    lineage: Lineage,
    current: list[str],
    approval: Approval,
    signer: SignerIdentity | None,
    problem: str | None,
    person: Person | None,
) -> str:
    """Why this approval does not count, or "" (author and duplicate checks come later)."""
    if signer is None:
        return f"signature not accepted: {problem}"
    if person is None:
        return "its signer is not a person in policies/people.yaml"
    if approval.role not in rule.roles:
        return f"the policy does not ask for a {approval.role}"
    if not person.holds(approval.role):
        return f"{person.name} does not hold the role {approval.role}"
    if approval.digest.sha256 != lineage.sha256:
        return "it approved other bytes"
    if approval.lineage != current:
        added = sorted(set(current) - set(approval.lineage))
        what = f" (new run {', '.join(i[:12] for i in added)})" if added else ""
        return f"the lineage changed since it was approved{what}"
    card_now = ctx.card.sha256 if ctx.card else None
    card_then = approval.card.sha256 if approval.card else None
    if card_now != card_then:
        return "the model card changed since it was approved"
    if approval.policy.sha256 != ctx.policy_sha256:
        return (
            f"the policy changed since it was approved ({approval.policy.path} was "
            f"{approval.policy.sha256[:12]})"
        )
    if rule.valid_for_days is not None:
        try:
            when = datetime.fromisoformat(approval.approved_at.replace("Z", "+00:00"))
        except ValueError:
            return f"its time {approval.approved_at!r} is not readable"
        if ctx.now - when > timedelta(days=rule.valid_for_days):
            return f"it expired ({rule.valid_for_days} days after {approval.approved_at[:10]})"
    return ""


def judge_rule(
    ctx: ApprovalContext | None, lineage: Lineage, rule: ApprovalsRule
) -> tuple[bool, str]:
    """(passed, detail) of an ``approvals`` rule, for the policy engine."""
    if ctx is None:
        return False, "approvals were not looked up for this decision"
    if lineage.root is None:
        return False, "nothing to approve: no signed run produced this file"
    tally = assess(ctx, lineage, rule)
    return tally.passed, tally.detail()


def approval_context(
    ledger: Ledger, trust: TrustRoot, policy_sha256: str, card: ModelCard | None
) -> ApprovalContext:
    """The context for judging approvals: people and their keys from the trust source."""
    from auditpipe.approvals.trust import trusted_approval_verifier
    from auditpipe.people import people_of

    people = people_of(trust)
    return ApprovalContext(
        ledger, people, trusted_approval_verifier(trust, people), policy_sha256, card
    )
