"""Check the whole ledger branch: append-only history, ids, signatures, trust, index.

``verify_ledger`` walks every commit from the root to the head and reports every
violation it finds (it does not stop at the first):

- a commit that modifies or deletes an entry, or adds a path outside the
  layout table (``layout.AREAS``);
- a commit other than the root that adds no entry or more than one, or whose
  message disagrees with the entry it adds;
- a merge commit (the ledger history is linear; sync replays, never merges);
- an entry over the size limit (read from its object header, not inflated),
  not in its one byte form (``format.py``), whose payload does not hash to its
  id, that does not parse, whose statement is invalid, or whose signature is
  invalid (an entry by an unknown signer is listed as untrusted, not a failure);
- an index that differs from the one rebuilt from the entries;
- a head that does not descend from the last head this clone verified
  (rollback, or a force-moved ref).

Signer trust is a separate question: an entry by a signer the trust set does
not know is valid history, listed in ``VerifyReport.untrusted``, not a problem
(any writer could otherwise stop every sync).

The checks on one entry's bytes live in ``entry_check.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from auditpipe.errors import Error
from auditpipe.ledger import commits, layout, treediff
from auditpipe.ledger.entry_check import EntryVerdict, Untrusted, judge_entry
from auditpipe.ledger.gitstore import FILE_MODE, TREE_MODE, GitStore
from auditpipe.ledger.state import read_verified_head, write_verified_head
from auditpipe.ledger.trees import EMPTY_BLOB, Overlay
from auditpipe.signing.interface import Verifier


@dataclass(frozen=True)
class Problem:
    message: str
    entry: str | None = None
    commit: str | None = None

    def describe(self) -> str:
        where = f"entry {self.entry}: " if self.entry else ""
        at = f" (commit {self.commit[:12]})" if self.commit else ""
        return f"{where}{self.message}{at}"


@dataclass
class VerifyReport:
    head: str | None
    entries: int = 0
    commits: int = 0
    signers: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    untrusted: list[Untrusted] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)  # entries in the pre-format-1 form

    @property
    def ok(self) -> bool:
        return not self.problems


Progress = Callable[[int, int], None]


def verify_ledger(
    store: GitStore,
    verifier: Verifier,
    *,
    record: bool = True,
    progress: Progress | None = None,
) -> VerifyReport:
    """Verify the ledger; on success (and ``record``) remember the head as verified."""
    state_dir = store.workspace.state_dir
    last = read_verified_head(state_dir)
    head = store.head()
    report = VerifyReport(head=head.decode() if head else None)
    if head is None:
        if last is not None:
            report.problems.append(
                Problem(f"the ledger branch is gone; this clone last verified {last.decode()}")
            )
        return report

    chain = _first_parent_chain(store, head, report)
    if last is not None and last not in {link.sha for link in chain}:
        report.problems.append(
            Problem(
                f"head {head.decode()[:12]} does not descend from the last head this clone "
                f"verified ({last.decode()[:12]}): the ledger was rolled back or rewritten"
            )
        )
    added: dict[bytes, list[str]] = {}
    buckets = _check_history(store, chain, report, added)
    facts = _check_entries(store, verifier, buckets, chain[0], report, progress)
    _check_commits(chain, added, facts, report)
    if report.ok and record:
        write_verified_head(state_dir, head)
    return report


@dataclass(frozen=True)
class _Link:
    sha: bytes
    tree: bytes
    parents: list[bytes]
    message: bytes

    @property
    def hex(self) -> str:
        return self.sha.decode()


def _first_parent_chain(store: GitStore, head: bytes, report: VerifyReport) -> list[_Link]:
    chain: list[_Link] = []
    current: bytes | None = head
    while current:
        tree, parents, message = store.commit_parts(current)
        link = _Link(current, tree, parents, message)
        if len(parents) > 1:
            report.problems.append(
                Problem("merge commit on the ledger (history must be linear)", commit=link.hex)
            )
        chain.append(link)
        current = parents[0] if parents else None
    report.commits = len(chain)
    return chain


def _check_history(
    store: GitStore, chain: list[_Link], report: VerifyReport, added: dict[bytes, list[str]]
) -> dict[bytes, bytes]:
    """Walk root -> head; return the head's entry bucket map (name -> tree id).

    ``added`` is filled with the entry ids each commit adds.

    Between two commits only the fan-out records that differ are parsed: the
    entries tree's records all have one width, so the changed ones are found by
    comparing raw bytes (a common prefix and suffix), not by parsing 256
    records per commit. Anything irregular falls back to a full comparison.
    """
    prev_entries: bytes | None = None
    prev_raw = b""
    for link in reversed(chain):
        root = store.tree_items(link.tree)
        for name, (mode, _sha) in root.items():
            if name not in layout.AREAS or mode != TREE_MODE:
                shown = name.decode("utf-8", "replace")
                report.problems.append(
                    Problem(
                        f"path {shown!r} is outside the ledger layout "
                        f"(allowed at top level: {', '.join(a.decode() for a in layout.AREAS)})",
                        commit=link.hex,
                    )
                )
        found = root.get(layout.ENTRIES)
        entries_sha = found[1] if found else None
        new_ids = added.setdefault(link.sha, [])
        if entries_sha == prev_entries:
            continue
        raw = treediff.raw_tree(store, entries_sha)
        old, new = treediff.changed_records(prev_raw, raw)
        for name in set(old) | set(new):
            before, after = old.get(name), new.get(name)
            if before == after:
                continue
            if after is not None and (after[0] != TREE_MODE or not _BUCKET.match(name)):
                shown = name.decode("utf-8", "replace")
                report.problems.append(
                    Problem(f"path entries/{shown} is outside the ledger layout", commit=link.hex)
                )
                after = None  # its entries (if any) are gone from the layout
            new_ids += _diff_bucket(
                store,
                name,
                before[1] if before else None,
                after[1] if after else None,
                link,
                report,
            )
        prev_entries, prev_raw = entries_sha, raw
    return {
        name: sha
        for name, (mode, sha) in treediff.records(prev_raw).items()
        if mode == TREE_MODE and _BUCKET.match(name)
    }


_BUCKET = re.compile(rb"^[0-9a-f]{2}$")


def _diff_bucket(
    store: GitStore,
    bucket: bytes,
    old: bytes | None,
    new: bytes | None,
    link: _Link,
    report: VerifyReport,
) -> list[str]:
    """Report modified, deleted and misplaced files; return the ids of added entries."""
    added: list[str] = []
    before = _items(store, old)
    after = _items(store, new)
    for name, (_mode, sha) in before.items():
        now = after.get(name)
        if now is not None and now[1] == sha:
            continue
        entry = layout.id_from_filename(name) or name.decode("utf-8", "replace")
        what = "entry deleted" if now is None else "entry modified"
        report.problems.append(Problem(what, entry=entry, commit=link.hex))
    for name, (mode, _sha) in after.items():
        if name in before:
            continue
        entry_id = layout.id_from_filename(name)
        if entry_id is None or entry_id[:2].encode() != bucket or mode != FILE_MODE:
            shown = name.decode("utf-8", "replace")
            report.problems.append(
                Problem(
                    f"path entries/{bucket.decode()}/{shown} is outside the ledger layout",
                    commit=link.hex,
                )
            )
        else:
            added.append(entry_id)
    return added


def _items(store: GitStore, tree_id: bytes | None) -> dict[bytes, tuple[int, bytes]]:
    if tree_id is None:
        return {}
    try:
        return store.tree_items(tree_id)
    except Error:
        return {}


def _check_entries(
    store: GitStore,
    verifier: Verifier,
    buckets: dict[bytes, bytes],
    head: _Link,
    report: VerifyReport,
    progress: Progress | None,
) -> dict[str, tuple[str, str | None]]:
    """Check every entry at the head; return each readable entry's (kind, stage)."""
    facts: dict[str, tuple[str, str | None]] = {}
    expected_index: dict[tuple[bytes, ...], bytes] = {}
    files = [
        (name, sha)
        for bucket in sorted(buckets)
        for name, (_m, sha) in sorted(_items(store, buckets[bucket]).items())
    ]
    total = len(files)
    for done, (name, sha) in enumerate(files, 1):
        if progress is not None and (done % 256 == 0 or done == total):
            progress(done, total)
        entry_id = layout.id_from_filename(name)
        if entry_id is None:
            continue  # already reported as misplaced
        report.entries += 1
        try:
            raw = store.bounded_blob(sha, layout.MAX_ENTRY_BYTES)
        except Error as exc:
            report.problems.append(Problem(exc.message, entry=entry_id))
            continue
        verdict = judge_entry(entry_id, raw, verifier)
        report.problems += [Problem(p, entry=entry_id) for p in verdict.problems]
        if verdict.legacy:
            report.legacy.append(entry_id)
        signed, identity = verdict.signed, verdict.identity
        if signed is not None:
            facts[entry_id] = (signed.kind, signed.stage)
            # The index is derived from every readable entry, trusted or not, so
            # an untrusted signature is reported once, as what it is.
            for path in layout.index_paths_for(entry_id, signed):
                expected_index[path[1:]] = EMPTY_BLOB
        if verdict.untrusted is not None:
            report.untrusted.append(verdict.untrusted)
        if identity is None:
            continue
        label = identity.keyid or identity.identity or "unknown"
        report.signers[label] = report.signers.get(label, 0) + 1
    found = store.tree_items(head.tree).get(layout.INDEX)
    actual = found[1] if found else None
    expected = Overlay(store).build(None, expected_index)
    if actual != expected:
        report.problems.append(
            Problem("the index does not match the entries it is derived from", commit=head.hex)
        )
    return facts


def _check_commits(
    chain: list[_Link],
    added: dict[bytes, list[str]],
    facts: dict[str, tuple[str, str | None]],
    report: VerifyReport,
) -> None:
    """Each commit but the root adds exactly one entry, and its message agrees with it."""
    for link in chain:
        ids = added.get(link.sha, [])
        if len(ids) > 1:
            report.problems.append(
                Problem(
                    f"commit adds {len(ids)} entries ({', '.join(ids)}); an append adds one",
                    commit=link.hex,
                )
            )
            continue
        if not ids:
            if link.parents:
                named = commits.named_entry(link.message)
                report.problems.append(
                    Problem(
                        "commit adds no entry (each append adds exactly one)",
                        entry=named,
                        commit=link.hex,
                    )
                )
            continue
        fact = facts.get(ids[0])
        if fact is None:
            continue  # the entry itself is already reported
        defect = commits.message_defect(link.message, ids[0], *fact)
        if defect is not None:
            report.problems.append(Problem(defect, entry=ids[0], commit=link.hex))


__all__ = ["EntryVerdict", "Problem", "Untrusted", "VerifyReport", "judge_entry", "verify_ledger"]
