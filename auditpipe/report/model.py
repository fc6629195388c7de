"""The artifact report as data: lineage, verdicts and decision turned into template values.

``collect`` walks the artifact's lineage (and decides it when a policy is
given) exactly as ``verify`` and ``gate`` do; ``artifact_report`` turns that
into an ``ArtifactReport`` a template prints. Nothing here renders or prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditpipe.errors import Error
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import Environment, Material, Validation
from auditpipe.policy.engine import Decision
from auditpipe.policy.load import LoadedPolicy
from auditpipe.provenance.lineage import Lineage, RunNode
from auditpipe.report import graph
from auditpipe.report.appendix import rechecks, signing_keys
from auditpipe.report.stamp import Stamp, parse_time
from auditpipe.report.views import (
    EnvView,
    ExpectationView,
    FileView,
    GateView,
    PolicyView,
    PromotionView,
    Recheck,
    Row,
    RuleView,
    RunView,
    SignerView,
    SourceView,
    rows,
    size,
    table_view,
    text,
)
from auditpipe.signing.keys import TRUSTED_KEYS_DIR
from auditpipe.trust.root import TrustRoot

MAX_FINDINGS = 8
"""Problems listed on the cover; the summary lists them all."""


@dataclass(frozen=True)
class ArtifactReport:
    """Everything ``report.html.j2`` prints about one artifact."""

    title: str
    subject: str
    artifact: str
    sha256: str
    verdict: str
    """``ALLOW`` / ``DENY`` under a policy, else ``VERIFIED`` / ``NOT VERIFIED``."""
    passed: bool
    stamp: Stamp
    verified: bool
    failures: list[str]
    """Every verification problem (lineage, signatures, gates, sources)."""
    findings: list[str]
    """The first problems, failures of the policy first, for the cover."""
    more_findings: int
    policy: PolicyView | None
    graph: graph.Drawing
    runs: list[RunView]
    sources: list[SourceView]
    environments: list[EnvView]
    promotions: list[PromotionView]
    rechecks: list[Recheck]
    keys: list[Row] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)
    trust: str = ""
    """Where keys, identities and the policy were read from (a revision, or the working tree)."""
    template: str = "report.html.j2"
    summary: Any = None
    """Page 1 (``auditpipe/report/summary.py`` Summary), filled in by ``with_summary``."""


def collect(
    ledger: Ledger, artifact: str, policy: LoadedPolicy | None, trust: TrustRoot
) -> tuple[Lineage, Decision | None]:
    """The artifact's lineage, and the policy's decision on it when a policy is given,
    with signers judged by ``trust``."""
    from auditpipe.policy.judge import artifact_digest, judge
    from auditpipe.policy.trust import policy_verifier
    from auditpipe.provenance.lineage import walk

    workspace = ledger.workspace
    rel, digest = artifact_digest(workspace, artifact)
    if policy is not None:
        [(lineage, decision)] = judge(ledger, policy, trust, [rel])
    else:
        verifier = policy_verifier(trust, None)
        lineage, decision = walk(ledger, verifier, rel, digest, root=workspace.root), None
    # An unrecorded or changed artifact still gets its (DENY) report: a reviewer needs it most.
    return lineage, decision


def artifact_report(
    ledger: Ledger,
    lineage: Lineage,
    decision: Decision | None,
    policy: LoadedPolicy | None,
    stamp: Stamp,
    trust: TrustRoot | None = None,
) -> ArtifactReport:
    """The template values for one artifact's report."""
    root = ledger.workspace.root
    nodes = chronological(lineage)
    runs = [
        _run(i, node, lineage, _entry(ledger, node.id), root) for i, node in enumerate(nodes, 1)
    ]
    failures = list(lineage.failures())
    policy_view = None
    findings: list[str] = []
    if decision is not None and policy is not None:
        rel = _display(root, policy.path)
        policy_view = PolicyView(
            name=decision.policy,
            path=rel,
            sha256=policy.sha256,
            allow=decision.allow,
            rules=[RuleView(r.rule, r.passed, r.detail, r.missing) for r in decision.ordered()],
        )
        findings += [f"{r.rule}: {r.detail}" for r in decision.ordered() if not r.passed]
        verdict, passed = ("ALLOW", True) if decision.allow else ("DENY", False)
    elif lineage.root is None:  # unrecorded or changed since its run
        verdict, passed = "DENY", False
    else:
        verdict, passed = ("VERIFIED", True) if lineage.ok else ("NOT VERIFIED", False)
    findings += failures
    promotions = _promotions(ledger, lineage.sha256)
    sources = _sources(lineage)
    subject = f"Provenance of {lineage.artifact} (sha256 {lineage.sha256})" + (
        f" and its decision under policy {decision.policy}" if decision else ""
    )
    return ArtifactReport(
        title=f"Audit report: {lineage.artifact}",
        subject=subject,
        artifact=lineage.artifact,
        sha256=lineage.sha256,
        verdict=verdict,
        passed=passed,
        stamp=stamp,
        verified=lineage.ok,
        failures=failures,
        findings=findings[:MAX_FINDINGS],
        more_findings=max(0, len(findings) - MAX_FINDINGS),
        policy=policy_view,
        graph=graph.draw(*graph.lineage_nodes(lineage)),
        runs=runs,
        sources=sources,
        environments=_environments(lineage),
        promotions=promotions,
        rechecks=rechecks(
            lineage.artifact,
            lineage.sha256,
            runs,
            sources,
            promotions,
            {p for p in [lineage.artifact, *lineage.sources] if (root / p).is_dir()},
        ),
        keys=signing_keys(runs),
        alternatives=list(lineage.alternatives),
        trust=_trust_text(trust),
    )


def _trust_text(trust: TrustRoot | None) -> str:
    if trust is None:
        return ""
    if trust.from_working_tree:
        return "the working tree (no trust ref): keys and policy as found in the checkout"
    return f"{trust.ref}, commit {trust.commit}: keys and policy as committed there"


def chronological(lineage: Lineage) -> list[RunNode]:
    """The producing runs oldest first (upstream before downstream), then the consumers."""
    producers = {n.id for n in lineage.ordered_runs()}

    def key(node: RunNode) -> tuple[bool, bool, str, str]:
        finished = node.run.finished_at if node.run else ""
        return (node.id not in producers, node.run is None, finished, node.id)

    return sorted(lineage.all_runs(), key=key)


def _entry(ledger: Ledger, entry_id: str) -> Entry | None:
    try:
        return ledger.get(entry_id)
    except Error:
        return None


def _display(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _run(number: int, node: RunNode, lineage: Lineage, entry: Entry | None, root: Path) -> RunView:
    role = "producer" if node.id in {n.id for n in lineage.ordered_runs()} else "consumer"
    signer = _signer(node, entry, root)
    run = node.run
    anchor = f"run-{node.id[:12]}"
    if run is None:
        return RunView(
            number, anchor, node.id, node.stage, role, "unknown", False, node.all_problems(), signer
        )
    runner = f"{run.runner.user}@{run.runner.host}"
    pipeline = f"{run.pipeline.path} (sha256 {run.pipeline.sha256[:12]})" if run.pipeline else ""
    streams = (("stdout", run.logs.stdout), ("stderr", run.logs.stderr)) if run.logs else ()
    logs = [Row(f"{name} sha256", digest.sha256) for name, digest in streams if digest]
    return RunView(
        number=number,
        anchor=anchor,
        id=node.id,
        stage=node.stage,
        role=role,
        status=run.status,
        ok=node.ok,
        problems=node.all_problems(),
        command=run.command or "",
        signer=signer,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration=_duration(run.started_at, run.finished_at),
        exit_code=text(run.exit_code),
        runner=runner,
        ci_run_url=run.runner.ci_run_url or "",
        commit=run.code.commit or "",
        tree=run.code.tree or "",
        dirty=run.code.dirty,
        pipeline=pipeline,
        stage_key=run.stage_key or "",
        code_deps=[Row(k, v) for k, v in sorted(run.code.deps.items())],
        params=rows(run.params),
        metrics=rows(run.metrics),
        materials=[_file(m, lineage) for m in run.materials],
        products=[_file(m, lineage) for m in run.products],
        gates=[_gate(g) for g in run.validations],
        logs=logs,
        environment=_env(run.environment, []),
        dirty_files=list(run.code.dirty_files or []),
        reproductions=[
            f"{'same products' if same else 'DIFFERENT products'} (entry {entry_id[:12]})"
            for entry_id, same in node.reproductions
        ],
    )


def _signer(node: RunNode, entry: Entry | None, root: Path) -> SignerView:
    who = node.signer
    keyid = (who.keyid if who else None) or (entry.bundle.key_hint if entry else None) or ""
    key_file = (TRUSTED_KEYS_DIR / f"{keyid}.pem").as_posix() if keyid else ""
    if key_file and not (root / key_file).is_file():
        key_file = ""
    keyless = entry is not None and entry.bundle.is_keyless
    fallback = f"key {keyid}" if keyid else ("keyless certificate" if keyless else "unknown")
    return SignerView(
        description=who.describe() if who else fallback,
        kind=who.kind if who else ("key" if keyid else "unknown"),
        keyid=keyid,
        identity=(who.identity or "") if who else "",
        issuer=(who.issuer or "") if who else "",
        trusted=who is not None and node.signature_problem is None,
        problem=node.signature_problem or ("" if who else "signature not checked"),
        key_file=key_file,
        tlog=_tlog(entry) if keyless and entry is not None else "",
    )


def _tlog(entry: Entry) -> str:
    from auditpipe.signing.sigstore_verify import tlog_summary

    summary = tlog_summary(entry.bundle)
    if summary is None:
        return "no transparency-log entry"
    text = (
        f"Rekor log index {summary['logIndex']}, integrated {summary['integratedAt']}, "
        f"log id {summary['logId']} ({summary['kind']})"
    )
    return f"{text}, {summary['url']}" if "url" in summary else text


def _duration(started: str, finished: str) -> str:
    start, end = parse_time(started), parse_time(finished)
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds():.2f} s"


def _file(material: Material, lineage: Lineage) -> FileView:
    producer = material.produced_by or ""
    stage = lineage.runs[producer].stage if producer in lineage.runs else ""
    return FileView(
        name=material.name,
        sha256=material.digest.sha256,
        size=size(material.size),
        kind=material.kind,
        produced_by=producer,
        producer_stage=stage,
        table=table_view(material.table),
    )


def _gate(gate: Validation) -> GateView:
    return GateView(
        suite=gate.suite,
        suite_path=gate.suite_path,
        suite_digest=gate.suite_digest.sha256,
        data=gate.data,
        data_digest=gate.data_digest.sha256,
        success=gate.success,
        statistics=rows(gate.statistics),
        failed=[
            ExpectationView(f.type, f.column or "", text(f.kwargs or None), text(f.observed))
            for f in gate.failed_expectations
        ],
    )


def _env(environment: Environment, runs: list[str]) -> EnvView:
    return EnvView(
        python=environment.python,
        platform=environment.platform,
        packages=len(environment.packages),
        packages_digest=environment.packages_digest,
        variables=[Row(k, v) for k, v in sorted(environment.variables.items())]
        + [  # only what the ledger holds: that it was set, never a value
            Row(k, f"secret, {state}, value not recorded")
            for k, state in sorted(environment.secret_variables.items())
        ],
        runs=runs,
    )


def _environments(lineage: Lineage) -> list[EnvView]:
    """Each distinct environment, with the runs recorded in it."""
    groups: dict[tuple[str, str, str], tuple[Environment, list[str]]] = {}
    for node in lineage.all_runs():
        if node.run is None:
            continue
        env = node.run.environment
        key = (env.python, env.platform, env.packages_digest)
        groups.setdefault(key, (env, []))[1].append(f"{node.stage} ({node.id[:12]})")
    return [_env(env, runs) for env, runs in groups.values()]


def _sources(lineage: Lineage) -> list[SourceView]:
    views = []
    for source in lineage.sources.values():
        material: Material | None = None
        used_by = []
        code = False
        for node in chronological(lineage):
            run = node.run
            for m in run.materials if run else []:
                if run and m.name == source.name and m.digest.sha256 == source.sha256:
                    material = material or m
                    used_by.append(f"{node.stage} ({node.id[:12]})")
                    code = code or m.name in run.code.deps
        views.append(
            SourceView(
                name=source.name,
                sha256=source.sha256,
                current=source.current or "",
                ok=source.ok,
                problems=list(source.problems),
                size=size(material.size) if material else "",
                used_by=used_by,
                code=code,
                table=table_view(material.table) if material else None,
            )
        )
    return views


def _promotions(ledger: Ledger, sha256: str) -> list[PromotionView]:
    found = []
    for entry in ledger.lookup_subject(sha256):
        promotion = entry.signed.promotion()
        if promotion is None:
            continue
        found.append(
            PromotionView(
                id=entry.id,
                stage=promotion.stage,
                time=promotion.promoted_at,
                by=f"{promotion.runner.user}@{promotion.runner.host}",
                policy=f"{promotion.policy.path} (sha256 {promotion.policy.sha256[:12]})",
                signer=f"key {entry.bundle.key_hint}" if entry.bundle.key_hint else "",
            )
        )
    return sorted(found, key=lambda p: (p.time, p.id))
