"""``auditpipe lock``: rebuild auditpipe.lock from the working tree and the ledger."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from auditpipe.cli.app import app, err, out, print_json


@app.command
def lock(*, key: str | None = None, passphrase_env: str | None = None) -> int:
    """Rebuild auditpipe.lock: per stage, the newest run whose outputs are in the
    tree now, and a checkpoint over the ledger head signed with your key.

    The resolution of a merge conflict in auditpipe.lock: pull the ledger
    (`auditpipe ledger pull`), run `auditpipe lock`, commit the result.

    Parameters
    ----------
    key
        Name of the signing key for the checkpoint.
    passphrase_env
        Environment variable holding the key's passphrase.
    """
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.lock.update import runs_in_tree, update_lock
    from auditpipe.signing.factory import local_signer

    signer = local_signer(key, passphrase_env)
    with Ledger.open() as book:
        stages = runs_in_tree(book)
        path = update_lock(book, signer, stages, replace=True)
    for stage, entry_id in stages.items():
        out.print(f"{escape(stage)}: {entry_id}")
    err.print(f"wrote {path.name}: {len(stages)} stage(s) and a checkpoint over the ledger head")
    return 0


@app.command
def checkpoint(
    *,
    cosign: bool = False,
    key: str | None = None,
    passphrase_env: str | None = None,
    json: bool = False,
) -> int:
    """Verify what was appended since this clone's last check against every
    checkpoint it knows (auditpipe.lock, this clone's state), then print the
    C2SP checkpoint over the ledger head.

    Only entries appended after the newest pinned checkpoint are read: with
    this clone's Merkle frontier in .git/auditpipe/, that costs the same on a
    ledger of 100 or 100,000 entries.

    With --cosign, also add your cosignature over that checkpoint to
    auditpipe.lock (a witness: CI or a second team); a policy's
    `witnessed: {by: [keyids], min: 1}` rule counts them.

    Parameters
    ----------
    cosign
        Add a cosignature by your key over the checkpoint to auditpipe.lock.
    key
        Name of the cosigning key.
    passphrase_env
        Environment variable holding the key's passphrase.
    json
        Print machine-readable output.
    """
    from auditpipe.anchor.pinned import verify_pinned
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.signing.factory import verifier_for

    with Ledger.open() as book:
        trust = open_trust_root(book.workspace, None, quiet=json)  # $AUDITPIPE_TRUST_REF, if set
        anchored = verify_pinned(book, trust, verifier=verifier_for(trust))
        if cosign:
            _cosign(book, key, passphrase_env)
    body = anchored.checkpoint.body() if anchored.checkpoint else None
    if json:
        print_json(
            {
                "checkpoint": body,
                "head": anchored.head,
                "verified": anchored.appended,
                "pins": list(anchored.pins),
            }
        )
        return 0
    if body is None:
        err.print("no ledger yet")
        return 0
    out.print(escape(body), end="")
    pins = f"; consistent with {', '.join(anchored.pins)}" if anchored.pins else ""
    err.print(f"verified {anchored.appended} entries appended since the last check{pins}")
    return 0


def _cosign(book: Any, key: str | None, passphrase_env: str | None) -> None:
    from auditpipe.lock.files import read_lock, write_lock
    from auditpipe.lock.model import Lock
    from auditpipe.lock.witness import cosign
    from auditpipe.signing.factory import local_signer

    signer = local_signer(key, passphrase_env)
    cosig = cosign(book, signer)
    lock = read_lock(book.workspace) or Lock()
    kept = [c for c in lock.cosignatures or [] if c.keyid != cosig.keyid]
    write_lock(book.workspace, lock.model_copy(update={"cosignatures": [*kept, cosig]}))
    err.print(f"auditpipe.lock: cosigned by key {cosig.keyid[:12]}; commit it")
