"""``auditpipe lock``: rebuild auditpipe.lock from the working tree and the ledger."""

from __future__ import annotations

from rich.markup import escape

from auditpipe.cli.app import app, err, out


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
