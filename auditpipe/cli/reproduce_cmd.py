"""``reproduce``: re-perform signed runs and say whether they give the same products."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from auditpipe.cli.app import app, err, out, print_json


def _target(ledger: Any, target: str) -> str:
    """The run an argument names: a file in the tree (its producing run) or an entry id."""
    from auditpipe.errors import EntryNotFound
    from auditpipe.provenance.current import current_digest
    from auditpipe.provenance.lineage import producers

    root = ledger.workspace.root
    path = Path(target)
    if path.exists():
        rel = ledger.workspace.relative(path)
        digest = current_digest(root, rel)
        made = producers(ledger, digest) if digest else []
        if not made:
            raise EntryNotFound(
                f"no successful signed run produced {rel} as it is now",
                hint="give an entry id from `auditpipe log` instead",
            )
        return str(made[0].id)
    return str(ledger.resolve(target))


def _chain(ledger: Any, run_id: str) -> list[str]:
    """``run_id`` and every run upstream of it, upstream first."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(entry_id: str) -> None:
        if entry_id in seen:
            return
        seen.add(entry_id)
        run = ledger.get(entry_id).signed.stage_run()
        for m in run.materials if run else []:
            if m.produced_by:
                visit(m.produced_by)
        order.append(entry_id)

    visit(run_id)
    return order


@app.command
def reproduce(
    target: str,
    /,
    *,
    upstream: bool = False,
    key: str | None = None,
    passphrase_env: str | None = None,
    trust_ref: str | None = None,
    json: bool = False,
) -> int:
    """Re-perform a trusted run in a clean checkout of its commit; exit 0 when every
    product has the digest it signed, 1 otherwise (naming them).

    Parameters
    ----------
    target
        An artifact in the working tree (its producing run) or an entry id.
    upstream
        Also reproduce every run upstream of it, upstream first.
    key
        Name of the key that signs the reproduction/v1 entries.
    passphrase_env
        Environment variable holding the key's passphrase.
    trust_ref
        Read the trusted keys from this git revision (default: $AUDITPIPE_TRUST_REF,
        else the working tree): only runs that trust set vouches for are reproduced.
    json
        Print machine-readable output.
    """
    from auditpipe.cache import open_cache
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.policy.trust import policy_verifier
    from auditpipe.reproduce import reproduce as perform
    from auditpipe.signing.factory import signer_for

    outcomes = []
    with Ledger.open() as ledger:
        workspace = ledger.workspace
        run_id = _target(ledger, target)
        ids = _chain(ledger, run_id) if upstream else [run_id]
        trust = open_trust_root(workspace, trust_ref, quiet=json)
        verifier = policy_verifier(trust, None)
        signer = signer_for(workspace, key, passphrase_env)
        cache = open_cache(workspace)
        for entry_id in ids:
            outcomes.append(perform(ledger, verifier, signer, cache, entry_id))
    if json:
        print_json(
            [
                {
                    "run": o.run,
                    "stage": o.stage,
                    "entry": o.entry,
                    "matches": o.matches,
                    "exitCode": o.exit_code,
                    "seconds": round(o.seconds, 4),
                    "products": [p.model_dump(mode="json", by_alias=True) for p in o.products],
                    "metrics": {
                        k: v.model_dump(mode="json", by_alias=True) for k, v in o.metrics.items()
                    },
                    "environmentDifferences": list(o.environment_differences),
                }
                for o in outcomes
            ]
        )
    else:
        for o in outcomes:
            mark = "[green]✓[/]" if o.matches else "[bold red]✗[/]"
            out.print(
                f"{mark} {escape(o.stage)} run {o.run[:12]}: "
                f"{'same products' if o.matches else 'DIFFERENT'} "
                f"({o.seconds:.2f}s; recorded as {o.entry[:12]})"
            )
            if o.exit_code:
                out.print(f"    command exited with {o.exit_code}")
            for p in o.products:
                if not p.same:
                    now = p.reproduced.sha256[:12] if p.reproduced else "not written"
                    out.print(f"    {escape(p.name)}: {p.recorded.sha256[:12]} -> {now}")
            for name, d in o.metrics.items():
                out.print(f"    metric {escape(name)}: {d.recorded} -> {d.reproduced}")
            for diff in o.environment_differences:
                out.print(f"    environment: {escape(diff)}")
    different = [o for o in outcomes if not o.matches]
    if different:
        names = ", ".join(f"{o.stage} ({o.run[:12]})" for o in different)
        err.print(f"not reproduced: {escape(names)}")
        return 1
    return 0
