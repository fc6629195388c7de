"""The lineage walk: artifact digest -> producing run -> its inputs -> ... -> source data.

Every node gets a verdict with reasons: the entry's payload hashes to its id and
its signature is valid and trusted, its gates passed, each material's digest is
one its producing run really output, and source data on disk still has the
digest it had when it was fingerprinted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from auditpipe.errors import Error, UntrustedSigner
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.predicates import Reproduction, StageRun
from auditpipe.provenance.current import current_digest, current_run, failed_gates
from auditpipe.signing.interface import SignerIdentity, Verifier


@dataclass
class RunNode:
    """One signed stage run on the chain."""

    id: str
    stage: str
    run: StageRun | None
    signer: SignerIdentity | None = None
    problems: list[str] = field(default_factory=list)
    """Integrity problems: tampered or missing entries, broken digest links."""
    signature_problem: str | None = None
    gate_problems: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    """Ids of the runs that produced this run's materials."""
    sources: list[str] = field(default_factory=list)
    """Names of the materials no run produced (source data)."""
    reproductions: list[tuple[str, bool]] = field(default_factory=list)
    """Trusted ``reproduction/v1`` entries of this run: (entry id, same products)."""

    @property
    def ok(self) -> bool:
        return not self.problems and self.signature_problem is None and not self.gate_problems

    def all_problems(self) -> list[str]:
        extra = [f"signature: {self.signature_problem}"] if self.signature_problem else []
        return [*self.problems, *extra, *self.gate_problems]


@dataclass
class SourceNode:
    """Input data that no recorded run produced."""

    name: str
    sha256: str
    current: str | None
    """The file's digest on disk now (None when absent)."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Lineage:
    """The provenance graph of one artifact, with verdicts."""

    artifact: str
    sha256: str
    root: str | None
    """The run that produced the artifact (None if no run did)."""
    runs: dict[str, RunNode] = field(default_factory=dict)
    sources: dict[str, SourceNode] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Problems about the artifact itself (e.g. no run produced it)."""
    alternatives: list[str] = field(default_factory=list)
    """Other runs that also produced this digest (the newest is ``root``)."""
    consumers: list[str] = field(default_factory=list)
    """Runs that took this exact artifact as input (e.g. its evaluation), newest per stage."""

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and all(n.ok for n in self.all_runs())
            and all(s.ok for s in self.sources.values())
        )

    def failures(self) -> Iterator[str]:
        """Every problem, prefixed with the node it belongs to."""
        for problem in self.problems:
            yield f"{self.artifact}: {problem}"
        for node in self.all_runs():
            for problem in node.all_problems():
                yield f"run {node.id[:12]} ({node.stage}): {problem}"
        for source in self.sources.values():
            for problem in source.problems:
                yield f"source {source.name}: {problem}"

    def ordered_runs(self) -> list[RunNode]:
        """Runs from the artifact's producer back to the sources (breadth first)."""
        if self.root is None:
            return []
        seen, queue, ordered = {self.root}, [self.root], []
        while queue:
            node = self.runs[queue.pop(0)]
            ordered.append(node)
            for parent in node.inputs:
                if parent not in seen and parent in self.runs:
                    seen.add(parent)
                    queue.append(parent)
        return ordered

    def all_runs(self) -> list[RunNode]:
        """The producing chain, then the runs that consumed the artifact."""
        chain = self.ordered_runs()
        ids = {n.id for n in chain}
        return chain + [self.runs[c] for c in self.consumers if c not in ids]


def walk(
    ledger: Ledger,
    verifier: Verifier,
    artifact: str,
    sha256: str,
    *,
    root: Path,
    check_sources: bool = True,
) -> Lineage:
    """Build and judge the lineage of the artifact with this digest."""
    lineage = Lineage(artifact=artifact, sha256=sha256, root=None)
    made_by = producers(ledger, sha256)
    if not made_by:
        lineage.problems.append(
            f"no signed run on the ledger produced this file (sha256 {sha256[:12]}…): "
            "it changed after its run, or was never recorded"
        )
        return lineage
    # Untrusted runs are no evidence, for or against: a trusted producer wins even
    # when a stranger recorded the same bytes later. With none trusted, the newest
    # stays the root so the verdict names its untrusted signer.
    trusted = [e for e in made_by if not untrusted(verifier, e)]
    made_by = trusted + [e for e in made_by if e not in trusted] if trusted else made_by
    lineage.root = made_by[0].id
    lineage.alternatives = [e.id for e in made_by[1:]]
    pending = [made_by[0].id]
    while pending:
        entry_id = pending.pop()
        if entry_id in lineage.runs:
            continue
        node = _judge(ledger, verifier, entry_id)
        lineage.runs[entry_id] = node
        if node.run is None:
            continue
        for material in node.run.materials:
            if material.produced_by:
                node.inputs.append(material.produced_by)
                _check_link(
                    ledger, node, material.name, material.digest.sha256, material.produced_by
                )
                pending.append(material.produced_by)
            else:
                node.sources.append(material.name)
                lineage.sources.setdefault(
                    material.name,
                    _source(root, material.name, material.digest.sha256, check_sources),
                )
    for entry in _consumers(ledger, verifier, sha256):
        if entry.id not in lineage.runs:
            lineage.runs[entry.id] = _judge(ledger, verifier, entry.id)
        lineage.consumers.append(entry.id)
    _current_gate_failures(ledger, verifier, lineage, root)
    for node in lineage.runs.values():
        node.reproductions = reproductions_of(ledger, verifier, node.id)
    return lineage


def untrusted(verifier: Verifier, entry: Entry) -> bool:
    """Signed by someone the trust set does not know (an invalid signature is not
    this: such an entry is judged, and fails, where it is used)."""
    try:
        verifier.verify(entry.bundle)
    except UntrustedSigner:
        return True
    except Error:
        return False
    return False


def reproductions_of(ledger: Ledger, verifier: Verifier, run_id: str) -> list[tuple[str, bool]]:
    """Trusted reproductions of a run, oldest first: (entry id, products matched)."""
    found = []
    for entry in ledger.lookup_subject(run_id):
        predicate = entry.signed.predicate
        if not isinstance(predicate, Reproduction) or predicate.run != run_id:
            continue
        try:
            verifier.verify(entry.bundle)
        except Error:
            continue  # an untrusted reproduction is history, not evidence
        found.append((predicate.finished_at, entry.id, predicate.matches))
    return [(entry_id, matches) for _t, entry_id, matches in sorted(found)]


def _current_gate_failures(
    ledger: Ledger, verifier: Verifier, lineage: Lineage, root: Path
) -> None:
    """A stage on the chain whose current run (``provenance.current``) is another
    run that failed a gate blocks the artifact: the data that stage feeds
    downstream now did not pass its checks. Runs by signers the trust set does
    not know are not candidates: a stranger cannot deny honest work."""
    for node in lineage.runs.values():
        if node.run is None:
            continue
        current = current_run(ledger, node.stage, root, verifier=verifier)
        if current is None or current.id == node.id or current.run.status != "gate_failed":
            continue
        where = "whose data is in the working tree" if current.in_tree else "the newest run"
        node.gate_problems.append(
            f"the current run of stage {node.stage!r} ({current.id[:12]}, {where}) failed "
            f"{failed_gates(current.run)}; fix the data, then re-run it: "
            f"`auditpipe run {node.stage}`"
        )


def _successful_runs(ledger: Ledger, ids: list[str]) -> list[tuple[Entry, StageRun]]:
    """The readable, succeeded stage runs among ``ids`` (others are judged elsewhere)."""
    found = []
    for entry_id in ids:
        try:
            entry = ledger.get(entry_id)
            run = entry.signed.stage_run()
        except Error:
            continue
        if run is not None and run.status == "succeeded":
            found.append((entry, run))
    return found


def _consumers(ledger: Ledger, verifier: Verifier, sha256: str) -> list[Entry]:
    """The newest successful run by a known signer of each stage that consumed this digest."""
    newest: dict[str, tuple[str, Entry]] = {}
    for entry, run in _successful_runs(ledger, ledger.ids_for_material(sha256)):
        if not any(m.digest.sha256 == sha256 for m in run.materials):
            continue
        if untrusted(verifier, entry):
            continue
        if run.stage not in newest or run.finished_at > newest[run.stage][0]:
            newest[run.stage] = (run.finished_at, entry)
    return [entry for _t, entry in sorted(newest.values(), key=lambda p: p[0])]


def producers(ledger: Ledger, sha256: str) -> list[Entry]:
    """Successful stage runs whose subjects include the digest, newest first."""
    found = [
        (run.finished_at, entry)
        for entry, run in _successful_runs(ledger, ledger.ids_for_subject(sha256))
        if any(s.sha256 == sha256 for s in entry.signed.statement.subject)
    ]
    return [entry for _t, entry in sorted(found, key=lambda p: p[0], reverse=True)]


def _judge(ledger: Ledger, verifier: Verifier, entry_id: str) -> RunNode:
    try:
        entry = ledger.get(entry_id)
        run = entry.signed.stage_run()
    except Error as exc:
        reason = "is not on the ledger" if "no ledger entry" in exc.message else exc.message
        return RunNode(entry_id, "?", None, problems=[f"entry {reason}"])
    if run is None:
        return RunNode(entry_id, "?", None, problems=["entry is not a stage run"])
    node = RunNode(entry_id, run.stage, run)
    try:
        node.signer = verifier.verify(entry.bundle)
    except Error as exc:
        node.signature_problem = exc.message
    if run.status != "succeeded":
        node.problems.append(f"run status is {run.status}")
    for gate in run.validations:
        if not gate.success:
            failed = ", ".join(f.type for f in gate.failed_expectations) or "expectations"
            node.gate_problems.append(
                f"gate {gate.suite!r} on {gate.data} failed ({failed}); fix the data, then "
                f"re-run it: `auditpipe run {run.stage}`"
            )
    return node


def _check_link(ledger: Ledger, node: RunNode, name: str, sha256: str, producer: str) -> None:
    try:
        entry = ledger.get(producer)
    except Error:
        node.problems.append(
            f"material {name} names producing run {producer[:12]}, which is not on the ledger"
        )
        return
    if not any(s.sha256 == sha256 for s in entry.signed.statement.subject):
        node.problems.append(
            f"material {name} ({sha256[:12]}) is not an output of run {producer[:12]}"
        )


def _source(root: Path, name: str, sha256: str, check: bool) -> SourceNode:
    current = current_digest(root, name) if check else sha256
    node = SourceNode(name, sha256, current)
    if current is None:
        node.problems.append("source data is missing from the working tree")
    elif current != sha256:
        node.problems.append(
            f"source data changed since it was fingerprinted ({sha256[:12]} -> {current[:12]})"
        )
    return node
