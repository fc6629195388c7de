"""``auditpipe ledger push`` and ``pull``: share the ledger through any git remote."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cyclopts import App

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.cli.ledger_cmds import print_untrusted, untrusted_json
from auditpipe.cli.trust_cmds import trust_line

if TYPE_CHECKING:  # imported by the commands themselves: keeps every CLI start fast
    from auditpipe.ledger.sync import SyncResult
    from auditpipe.trust.root import TrustRoot

ledger_app = App(name="ledger", help="Share the ledger branch through any git remote.")
app.command(ledger_app)


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def _entries(count: int | None) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _as_json(result: SyncResult) -> dict[str, object]:
    return {
        "remote": result.remote,
        "url": result.url,
        "before": result.before,
        "head": result.head,
        "remote_head": result.remote_head,
        "received": result.received,
        "replayed": result.replayed,
        "sent": result.sent,
        "attempts": result.attempts,
        "entries": result.entries,
        "untrusted": untrusted_json(result.untrusted),
    }


def _sync(
    verb: str, remote: str, trust_ref: str | None, quiet: bool
) -> tuple[SyncResult, TrustRoot]:
    """Run ``pull`` or ``push`` against ``remote``; (result, where trust came from)."""
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.ledger import sync
    from auditpipe.signing.factory import verifier_for
    from auditpipe.workspace import Workspace

    workspace = Workspace.discover()
    trust = open_trust_root(workspace, trust_ref, quiet=quiet)
    action = sync.pull if verb == "pull" else sync.push
    signer = None
    from auditpipe.lock.files import read_lock

    if read_lock(workspace) is not None:
        from auditpipe.errors import SigningKeyError
        from auditpipe.signing.factory import local_signer

        try:
            signer = local_signer()
        except SigningKeyError:
            if verb == "push":
                err.print("no signing key: auditpipe.lock's checkpoint is not re-issued")
    progress = None if quiet else _progress
    verifier = verifier_for(trust)
    result = anchored_sync(
        action, workspace, remote, progress, signer, verifier, trust, pull=verb == "pull"
    )
    return result, trust


def anchored_sync(
    action: Any,
    workspace: Any,
    remote: str,
    progress: Any,
    signer: Any,
    verifier: Any,
    trust: TrustRoot,
    *,
    pull: bool,
) -> SyncResult:
    """Check the local ledger against its pins, sync, re-anchor on the new head
    and (with a signer) re-issue the lock's checkpoint over it — but only when the
    synced ledger extends the lock, or the lock held before the sync (which then
    only replayed local entries): never over a ledger truncated below it."""
    from auditpipe.anchor.check import anchor
    from auditpipe.anchor.pinned import known_pins, reanchor_after_sync
    from auditpipe.errors import VerificationFailed
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.lock.update import reissue_checkpoint

    pins = known_pins(workspace, trust)
    lock_held = False
    with Ledger(workspace) as book:
        if book.store.head() is not None:
            anchor(book.store, [])  # this clone's own state first
            try:
                anchor(book.store, pins, record=False)
                lock_held = bool(pins)
            except VerificationFailed:
                pass  # e.g. a lock newer than this clone's ledger: judged after the sync
    result: SyncResult = action(workspace, remote, verifier=verifier, progress=progress)
    with Ledger(workspace) as book:
        reanchor_after_sync(book)
        try:
            anchor(book.store, pins, record=False)
            extends_lock = True
        except VerificationFailed:
            if not lock_held:
                raise  # the synced ledger does not extend the lock: truncated or rewritten
            extends_lock = False
        if signer is not None and reissue_checkpoint(book, signer) is not None:
            err.print("auditpipe.lock: checkpoint re-issued over the ledger head; commit it")
        elif not extends_lock:
            # The lock held for the local ledger before the sync, which lost no entry:
            # the sync replayed local entries the lock covers and the shared ledger lacks.
            err.print(
                "auditpipe.lock pins entries that are not on the shared ledger yet: "
                "push the ledger, then commit auditpipe.lock"
            )
    return result


def _progress(done: int, total: int) -> None:
    if err.is_terminal:
        err.print(f"verifying {done}/{total} entries", end="\n" if done == total else "\r")


@ledger_app.command
def pull(remote: str = "origin", /, *, trust_ref: str | None = None, json: bool = False) -> int:
    """Fetch the remote's ledger and merge it into yours, verified.

    Entries only you have are replayed on top of the remote's; nothing is ever
    dropped. Refuses (exit 1) when the remote lost or changed an entry this
    clone has seen there.

    Parameters
    ----------
    remote
        A remote name (default: origin) or a git URL.
    trust_ref
        Judge signers by the keys and identities at this git revision (e.g. origin/main)
        (default: $AUDITPIPE_TRUST_REF, else the working tree). Entries by unknown
        signers are accepted and listed as untrusted; they never count as evidence.
    json
        Print machine-readable output.
    """
    result, trusted = _sync("pull", remote, trust_ref, json)
    if json:
        print_json({**_as_json(result), "trust": trusted.as_json()})
    elif result.remote_head is None:
        out.print(f"{remote} has no ledger yet; publish yours with `auditpipe ledger push`")
    elif not result.changed and result.head != result.remote_head:
        out.print(f"you hold every entry {remote} has, and more: `auditpipe ledger push` them")
    elif not result.changed:
        out.print(f"ledger up to date with {remote} (head {_short(result.head)})")
    else:
        out.print(
            f"pulled {result.received} new from {remote}, replayed {result.replayed} local on "
            f"top; ledger OK: {_entries(result.entries)}, head {_short(result.head)}"
        )
    if not json:
        print_untrusted(result.untrusted)
        out.print(trust_line(trusted))
    return 0


@ledger_app.command
def push(remote: str = "origin", /, *, trust_ref: str | None = None, json: bool = False) -> int:
    """Publish your ledger to a remote, merging in what others appended first.

    Never forces: when someone else appended in between, your entries are
    replayed on top of theirs and the push is retried.

    Parameters
    ----------
    remote
        A remote name (default: origin) or a git URL.
    trust_ref
        Judge signers by the keys and identities at this git revision (e.g. origin/main)
        (default: $AUDITPIPE_TRUST_REF, else the working tree). Entries by unknown
        signers are accepted and listed as untrusted; they never count as evidence.
    json
        Print machine-readable output.
    """
    result, trusted = _sync("push", remote, trust_ref, json)
    if json:
        print_json({**_as_json(result), "trust": trusted.as_json()})
    elif result.sent == 0:
        out.print(f"{remote} already has every entry (head {_short(result.head)})")
    else:
        tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
        merged = f", {_entries(result.received)} merged in first" if result.received else ""
        out.print(
            f"pushed {_entries(result.sent)} to {remote}{tries}{merged}; head {_short(result.head)}"
        )
    if not json:
        print_untrusted(result.untrusted)
        out.print(trust_line(trusted))
    return 0
