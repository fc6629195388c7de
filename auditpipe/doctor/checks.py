"""The doctor's checks: each looks at what this clone holds and returns findings.

They report, they never repair: where trust comes from, whether the ledger ref
was ever force-updated here (git's reflog), how the ledger stands against the
remote head last fetched, whether a lock file and a CI workflow running the
gate exist. What the tool cannot see (branch protection on the server, who may
edit the CI workflow) is said as a note, so a reader knows to check it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dulwich.objects import ZERO_SHA, ObjectID

from auditpipe.errors import Error
from auditpipe.ledger import replay
from auditpipe.ledger.gitstore import GitStore
from auditpipe.ledger.layout import LEDGER_REF
from auditpipe.ledger.state import read_verified_head
from auditpipe.trust.read import choose_ref, open_trust
from auditpipe.workspace import Workspace

LOCK_FILE = "auditpipe.lock"
WORKFLOWS = ".github/workflows"
SEVERITIES = ("ok", "note", "problem")
_GATE = re.compile(r"auditpipe\s+gate\b")


@dataclass(frozen=True)
class Finding:
    """One thing the doctor saw: ``severity`` is ok, note or problem."""

    check: str
    severity: str
    message: str
    hint: str | None = None


def diagnose(workspace: Workspace, trust_ref: str | None, remote: str) -> list[Finding]:
    """Every check, in a fixed order."""
    findings = [_trust(workspace, trust_ref)]
    store = GitStore(workspace)
    try:
        findings += _reflog(workspace, store)
        findings.append(_remote(workspace, store, remote))
        findings.append(_verified(workspace, store))
    finally:
        store.close()
    findings.append(_lock(workspace))
    findings.append(_workflow(workspace.root))
    return findings


def _trust(workspace: Workspace, trust_ref: str | None) -> Finding:
    ref = choose_ref(trust_ref)
    try:
        trust = open_trust(workspace, ref)
    except Error as exc:
        return Finding("trust", "problem", exc.message, exc.hint)
    if trust.from_working_tree:
        return Finding(
            "trust",
            "note",
            "trust comes from the working tree (no --trust-ref, no $AUDITPIPE_TRUST_REF): "
            "fine on your own branch, never in CI for a pull request",
            "in CI pass --trust-ref origin/<base> or set AUDITPIPE_TRUST_REF",
        )
    return Finding(
        "trust", "ok", f"trust from {trust.source}: {len(trust.keys)} key(s), "
        f"{len(trust.identities)} keyless identit{'y' if len(trust.identities) == 1 else 'ies'}"
    )  # fmt: skip


def _reflog(workspace: Workspace, store: GitStore) -> list[Finding]:
    """Non-fast-forward updates of the ledger ref in git's reflog (git writes it on
    fetch, push, update-ref and branch -f; auditpipe's own appends only add commits)."""
    path = workspace.git_dir / "logs" / LEDGER_REF.decode()
    try:
        # Two hex ids open each line (dulwich's parser wants a message, which
        # `git update-ref` without -m does not write).
        entries = [line.split(b" ", 2)[:2] for line in path.read_bytes().splitlines() if line]
    except FileNotFoundError:
        return [Finding("reflog", "ok", "no reflog for the ledger ref: git never moved it here")]
    except OSError as exc:
        return [Finding("reflog", "note", f"cannot read the ledger ref's reflog: {exc}")]
    forced = []
    for fields in entries:
        if len(fields) != 2:
            return [Finding("reflog", "note", f"unreadable line in {path}")]
        old, new = fields
        if ZERO_SHA in (old, new) or old == new:
            continue
        try:
            if not replay.descends(store, new, old):
                forced.append(f"{old[:12].decode()} -> {new[:12].decode()}")
        except Error:
            forced.append(f"{old[:12].decode()} -> {new[:12].decode()} (objects missing)")
    if forced:
        return [
            Finding(
                "reflog",
                "problem",
                f"the ledger ref was force-updated (not a fast-forward) in this clone: "
                f"{', '.join(forced)}",
                "the ledger must only grow: find who rewrote it, compare with the remote "
                "(`auditpipe ledger pull`), and forbid force-pushes to auditpipe/ledger",
            )
        ]
    return [Finding("reflog", "ok", f"{len(entries)} reflog entries, all fast-forward")]


def _remote(workspace: Workspace, store: GitStore, remote: str) -> Finding:
    """The local ledger against the remote head this clone last accepted (no network)."""
    from auditpipe.ledger.sync import resolve_remote

    try:
        component = resolve_remote(workspace, remote).component
    except Error as exc:
        return Finding("remote", "note", exc.message, exc.hint)
    rejected = replay.get_ref(store.repo, b"refs/auditpipe/rejected/" + component + b"/ledger")
    if rejected is not None:
        return Finding(
            "remote",
            "problem",
            f"{remote}'s ledger was refused as rewritten (kept as "
            f"refs/auditpipe/rejected/{remote}/ledger)",
            "see `auditpipe ledger pull` for the entries it lost or changed",
        )
    accepted = replay.get_ref(store.repo, b"refs/auditpipe/remotes/" + component + b"/ledger")
    local = store.head()
    if accepted is None:
        return Finding(
            "remote", "note", f"never synced with {remote}",
            f"`auditpipe ledger pull {remote}` to fetch, verify and merge its ledger",
        )  # fmt: skip
    if local is None:
        return Finding("remote", "problem", "no local ledger, but it was synced before")
    ahead = _count(store, local, accepted)
    behind = _count(store, accepted, local)
    if not ahead and not behind:
        return Finding("remote", "ok", f"in step with {remote} as last fetched")
    parts = [f"{ahead} local commit(s) not on {remote}"] if ahead else []
    parts += [f"{behind} commit(s) of {remote} not here"] if behind else []
    return Finding(
        "remote", "note", f"as last fetched: {', '.join(parts)}",
        f"`auditpipe ledger push {remote}` / `auditpipe ledger pull {remote}`",
    )  # fmt: skip


def _count(store: GitStore, head: bytes, other: bytes) -> int:
    walker = store.repo.get_walker(include=[ObjectID(head)], exclude=[ObjectID(other)])
    return sum(1 for _ in walker)


def _verified(workspace: Workspace, store: GitStore) -> Finding:
    last = read_verified_head(workspace.state_dir)
    head = store.head()
    if last is None:
        return Finding(
            "verified", "note", "this clone has not verified the ledger yet",
            "`auditpipe verify --ledger`",
        )  # fmt: skip
    if head is None or not replay.descends(store, head, last):
        return Finding(
            "verified",
            "problem",
            f"the ledger head does not descend from the head this clone last verified "
            f"({last[:12].decode()}): rolled back or rewritten",
            "run `auditpipe verify --ledger`",
        )
    return Finding(
        "verified", "ok", f"the ledger descends from the last verified head {last[:12].decode()}"
    )


def _lock(workspace: Workspace) -> Finding:
    if (workspace.root / LOCK_FILE).is_file():
        return Finding("lock", "ok", f"{LOCK_FILE} exists (pins the ledger for fresh clones)")
    return Finding(
        "lock", "note", f"no {LOCK_FILE}: a fresh clone has no pinned ledger checkpoint",
        "commit auditpipe.lock with the code once your auditpipe writes it",
    )  # fmt: skip


def _workflow(root: Path) -> Finding:
    directory = root / WORKFLOWS
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    gating = [p for p in files if _GATE.search(p.read_text(encoding="utf-8", errors="replace"))]
    if not gating:
        return Finding(
            "ci",
            "note",
            f"no workflow under {WORKFLOWS}/ runs `auditpipe gate`",
            "start from examples/ci/github-actions.yml",
        )
    unpinned = [
        p.relative_to(root).as_posix()
        for p in gating
        if not re.search(r"--trust-ref|--base|AUDITPIPE_TRUST_REF", p.read_text(errors="replace"))
    ]
    if unpinned:
        return Finding(
            "ci",
            "problem",
            f"{', '.join(unpinned)} runs `auditpipe gate` with trust from the working tree, "
            "which the pull request controls",
            "pass --trust-ref origin/${{ github.base_ref }} (or --base, or AUDITPIPE_TRUST_REF)",
        )
    names = ", ".join(p.relative_to(root).as_posix() for p in gating)
    return Finding(
        "ci",
        "ok",
        f"{names} runs `auditpipe gate` with a trust ref; a pull request can still edit its "
        "own workflow file, so make it a required workflow (ruleset) or run it from "
        "pull_request_target with the base's workflow",
    )
