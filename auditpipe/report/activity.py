"""The activity report as data: every run and promotion of a period, for periodic review.

Runs are grouped by stage, failures (failed runs, failed gates, signatures that
do not verify or are not trusted) are listed first, and the whole ledger is
verified (append-only history, ids, signatures, index) without recording the
head as verified: making a report changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from auditpipe.errors import ConfigError, Error
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import Validation
from auditpipe.people import People
from auditpipe.policy.load import LoadedPolicy
from auditpipe.report.stamp import Stamp, entry_time, parse_time, stamp
from auditpipe.report.views import text
from auditpipe.signing.interface import Verifier
from auditpipe.trust.root import TrustRoot

MAX_FINDINGS = 8


@dataclass(frozen=True)
class Period:
    since: datetime | None
    until: datetime | None
    """Exclusive upper bound."""
    label: str
    options: str
    """The ``--since``/``--until`` options that select it."""


@dataclass(frozen=True)
class ActivityRun:
    id: str
    time: str
    stage: str
    status: str
    gates: str
    """``passed/total`` or ""."""
    failed_gates: list[str]
    signer: str
    trusted: bool
    signature_problem: str
    runner: str
    commit: str
    dirty: bool

    @property
    def ok(self) -> bool:
        return self.status == "succeeded" and not self.failed_gates and self.trusted

    @property
    def problems(self) -> list[str]:
        found = [] if self.status == "succeeded" else [f"run {self.status}"]
        found += [f"gate {g} failed" for g in self.failed_gates]
        if not self.trusted:
            found.append(f"signature: {self.signature_problem}")
        return found


@dataclass(frozen=True)
class StageGroup:
    stage: str
    runs: list[ActivityRun]
    succeeded: int
    failed: int
    signers: list[str]


@dataclass(frozen=True)
class SignerRow:
    signer: str
    trusted: bool
    entries: int
    stages: str


@dataclass(frozen=True)
class ActivityPromotion:
    id: str
    time: str
    artifact: str
    sha256: str
    stage: str
    policy: str
    by: str
    signer: str
    trusted: bool


@dataclass(frozen=True)
class ActivityReport:
    """Everything ``activity.html.j2`` prints."""

    title: str
    subject: str
    period: str
    command: str
    """The command that makes this report again."""
    stamp: Stamp
    verdict: str
    passed: bool
    entries: int
    """Entries in the period (runs, promotions, checkpoints)."""
    ledger_entries: int
    ledger_ok: bool
    ledger_problems: list[str]
    runs: int
    failures: list[ActivityRun]
    findings: list[str]
    more_findings: int
    groups: list[StageGroup]
    signers: list[SignerRow]
    promotions: list[ActivityPromotion]
    checkpoints: int
    untimed: list[str] = field(default_factory=list)
    """Entries whose statement has no readable time (listed, never silently dropped)."""
    template: str = "activity.html.j2"


def period(since: str | None, until: str | None) -> Period:
    """The period ``--since``/``--until`` select (dates are whole UTC days, inclusive)."""
    start = _bound(since, "--since", end=False)
    end = _bound(until, "--until", end=True)
    if start and end and end <= start:
        raise ConfigError(f"--until {until} is before --since {since}")
    label = f"{since or 'the first entry'} to {until or 'the newest entry'}"
    options = "".join(f" {o} {v}" for o, v in (("--since", since), ("--until", until)) if v)
    return Period(start, end, label, options)


def _bound(text: str | None, option: str, *, end: bool) -> datetime | None:
    if text is None:
        return None
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        moment = parse_time(text)
        if moment is None:
            raise ConfigError(
                f"{option} {text!r} is not a date",
                hint="write a day as YYYY-MM-DD, or an instant as 2026-11-22T13:00:00Z",
            ) from None
        return moment + timedelta(microseconds=1) if end else moment
    return day + timedelta(days=1) if end else day


def activity_report(
    ledger: Ledger, within: Period, policy: LoadedPolicy | None, trust: TrustRoot
) -> ActivityReport:
    """The runs, promotions and checkpoints recorded within the period (signers judged by
    ``trust``)."""
    from auditpipe.ledger.verify import verify_ledger
    from auditpipe.people import people_of
    from auditpipe.policy.trust import policy_verifier

    verifier = policy_verifier(trust, policy.policy if policy else None)
    people = people_of(trust)
    runs: list[ActivityRun] = []
    promotions: list[ActivityPromotion] = []
    checkpoints, total, selected = 0, 0, 0
    untimed: list[str] = []
    for entry in ledger.entries():
        total += 1
        when = _time(entry)
        if when is None:
            untimed.append(entry.id)
            continue
        if not _within(when, within):
            continue
        selected += 1
        signer, trusted, problem = _signer(entry, verifier, people)
        run = entry.signed.stage_run()
        promotion = entry.signed.promotion()
        if run is not None:
            gates = run.validations
            runs.append(
                ActivityRun(
                    id=entry.id,
                    time=when,
                    stage=run.stage,
                    status=run.status,
                    gates=f"{sum(g.success for g in gates)}/{len(gates)}" if gates else "",
                    failed_gates=[_failed_gate(g) for g in gates if not g.success],
                    signer=signer,
                    trusted=trusted,
                    signature_problem=problem,
                    runner=f"{run.runner.user}@{run.runner.host}",
                    commit=run.code.commit or "",
                    dirty=run.code.dirty,
                )
            )
        elif promotion is not None:
            promotions.append(
                ActivityPromotion(
                    id=entry.id,
                    time=when,
                    artifact=promotion.artifact,
                    sha256=promotion.digest.sha256,
                    stage=promotion.stage,
                    policy=promotion.policy.path,
                    by=f"{promotion.runner.user}@{promotion.runner.host}",
                    signer=signer,
                    trusted=trusted,
                )
            )
        else:
            checkpoints += 1
    runs.sort(key=lambda r: (r.time, r.id))
    promotions.sort(key=lambda p: (p.time, p.id))
    verified = verify_ledger(ledger.store, verifier, record=False)
    ledger_problems = [p.describe() for p in verified.problems]
    failures = [r for r in runs if not r.ok]
    findings = [f"ledger: {p}" for p in ledger_problems]
    findings += [f"{r.stage} run {r.id[:12]} ({r.time}): {'; '.join(r.problems)}" for r in failures]
    findings += [
        f"promotion {p.id[:12]}: signature not trusted" for p in promotions if not p.trusted
    ]
    passed = not findings
    label = _dates(within, [r.time for r in runs] + [p.time for p in promotions])
    return ActivityReport(
        title=f"Ledger activity, {label}",
        subject=f"Every stage run and promotion recorded on auditpipe/ledger, {label}",
        period=label,
        command=f"auditpipe report --ledger{within.options} -o activity.pdf",
        stamp=stamp(ledger),
        verdict="NO FINDINGS" if passed else "FINDINGS",
        passed=passed,
        entries=selected,
        ledger_entries=total,
        ledger_ok=verified.ok,
        ledger_problems=ledger_problems,
        runs=len(runs),
        failures=failures,
        findings=findings[:MAX_FINDINGS],
        more_findings=max(0, len(findings) - MAX_FINDINGS),
        groups=_groups(runs),
        signers=_signers(runs, promotions),
        promotions=promotions,
        checkpoints=checkpoints,
        untimed=untimed,
    )


def _time(entry: Entry) -> str | None:
    try:
        when = entry_time(entry)
    except Error:
        return None
    return when if when and parse_time(when) else None


def _within(when: str, within: Period) -> bool:
    moment = parse_time(when)
    assert moment is not None
    if within.since and moment < within.since:
        return False
    return not (within.until and moment >= within.until)


def _signer(entry: Entry, verifier: Verifier, people: People) -> tuple[str, bool, str]:
    """(who signed, trusted, why not): the person when listed, else ``key <keyid>``."""
    try:
        identity = verifier.verify(entry.bundle)
    except Error as exc:
        hint = entry.bundle.key_hint
        person = people.by_keyid(hint)
        keyless = "keyless certificate" if entry.bundle.is_keyless else "unknown"
        named = person.describe() if person else (f"key {hint}" if hint else keyless)
        return named, False, exc.message
    person = people.for_signer(identity)
    return (person.describe() if person else identity.describe()), True, ""


def _failed_gate(gate: Validation) -> str:
    """A failed gate with each failed expectation and the value it observed."""
    failed = [
        f"{f.type}{f' ({f.column})' if f.column else ''}"
        + (f" observed {text(f.observed)}" if f.observed is not None else "")
        for f in gate.failed_expectations
    ]
    return f"{gate.suite} on {gate.data}" + (f": {'; '.join(failed)}" if failed else "")


def _dates(within: Period, times: list[str]) -> str:
    """The period as dates: the bounds given, else the first and last entry's day."""
    first = within.since.date().isoformat() if within.since else min(times, default="")[:10]
    last_moment = within.until - timedelta(microseconds=1) if within.until else None
    last = last_moment.date().isoformat() if last_moment else max(times, default="")[:10]
    if not first and not last:
        return "no entries"
    return first if first == last else f"{first} to {last}"


def _groups(runs: list[ActivityRun]) -> list[StageGroup]:
    by_stage: dict[str, list[ActivityRun]] = {}
    for run in runs:
        by_stage.setdefault(run.stage, []).append(run)
    return [
        StageGroup(
            stage=stage,
            runs=members,
            succeeded=sum(r.status == "succeeded" for r in members),
            failed=sum(r.status != "succeeded" for r in members),
            signers=sorted({r.signer for r in members}),
        )
        for stage, members in sorted(by_stage.items())
    ]


def _signers(runs: list[ActivityRun], promotions: list[ActivityPromotion]) -> list[SignerRow]:
    seen: dict[tuple[str, bool], list[str]] = {}
    for signer, trusted, what in [(r.signer, r.trusted, r.stage) for r in runs] + [
        (p.signer, p.trusted, f"promotion to {p.stage}") for p in promotions
    ]:
        seen.setdefault((signer, trusted), []).append(what)
    return [
        SignerRow(signer, trusted, len(whats), ", ".join(sorted(set(whats))))
        for (signer, trusted), whats in sorted(seen.items())
    ]
