"""Which signed runs' products the cache serves and keeps.

Reads the ledger (a run's signed products) and git (``auditpipe.lock`` on every
branch and tag); knows nothing about how objects are stored.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

from auditpipe.cache.outputs import Product
from auditpipe.errors import Error
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.lock.files import LOCK_FILE, stages_in
from auditpipe.storage.urls import is_url


def cacheable(outputs: tuple[str, ...]) -> tuple[str, ...]:
    """The outputs the caches hold: not object-store URLs, which already live in
    shared storage (they are signed by digest, never copied, pushed or restored)."""
    return tuple(o for o in outputs if not is_url(o))


def products_of(entry: Entry, outputs: tuple[str, ...] | None = None) -> list[Product]:
    """The products a successful run signed (its subjects) that the caches can hold
    (see ``cacheable``), with their kinds; only those among ``outputs`` when given."""
    run = entry.signed.stage_run()
    if run is None or run.status != "succeeded":
        return []
    signed = {s.name: s.sha256 for s in entry.signed.statement.subject}
    return [
        Product(m.name, m.kind, m.digest.sha256)
        for m in run.products
        if signed.get(m.name) == m.digest.sha256
        and (outputs is None or m.name in outputs)
        and not is_url(m.name)
    ]


def locked_run_ids(ledger: Ledger) -> set[str]:
    """Entry ids named by ``auditpipe.lock`` on any branch or tag, or in the working tree."""
    from dulwich.object_store import peel_sha, tree_lookup_path
    from dulwich.objects import Blob, Commit

    found: set[str] = set()
    texts: list[bytes] = []
    workspace = ledger.workspace
    with contextlib.suppress(OSError):
        texts.append((workspace.root / LOCK_FILE).read_bytes())
    repo = workspace.open()
    try:
        for ref in repo.refs.allkeys():
            if not ref.startswith((b"refs/heads/", b"refs/tags/")) or ref.startswith(
                b"refs/heads/auditpipe/"
            ):
                continue
            try:
                _obj, commit = peel_sha(repo.object_store, repo.refs[ref])
                if not isinstance(commit, Commit):
                    continue
                _mode, blob_id = tree_lookup_path(
                    repo.object_store.__getitem__, commit.tree, LOCK_FILE.encode()
                )
                blob = repo.object_store[blob_id]
            except (KeyError, ValueError, NotADirectoryError):
                continue
            if isinstance(blob, Blob):
                texts.append(blob.data)
    finally:
        repo.close()
    for text in texts:
        found.update(stages_in(text, LOCK_FILE).values())
    return found


def kept_products(ledger: Ledger, newest: int) -> list[Product]:
    """Products of the newest ``newest`` successful runs of each stage, and of
    every run a lock names."""
    by_stage: dict[str, list[tuple[str, Entry]]] = defaultdict(list)
    for entry_id in ledger.ids_for_kind("stage-run"):
        entry = ledger.get(entry_id)
        run = entry.signed.stage_run()
        if run is not None and run.status == "succeeded":
            by_stage[run.stage].append((run.finished_at, entry))
    kept: list[Product] = []
    for runs in by_stage.values():
        runs.sort(key=lambda pair: pair[0], reverse=True)
        for _when, entry in runs[: max(0, newest)]:
            kept.extend(products_of(entry))
    for entry_id in locked_run_ids(ledger):
        try:
            kept.extend(products_of(ledger.get(entry_id)))
        except Error:  # an id not on this ledger names nothing here
            continue
    return kept
