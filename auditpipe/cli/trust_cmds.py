"""Where trust comes from (``--trust-ref`` and its warning) and ``auditpipe doctor``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from auditpipe.cli.app import app, err, out, print_json

if TYPE_CHECKING:
    from auditpipe.trust.root import TrustRoot
    from auditpipe.workspace import Workspace

TRUST_REF_HELP = (
    "Read keys, identities and policies from this git revision (e.g. origin/main), never "
    "from the working tree (default: --base when given, else $AUDITPIPE_TRUST_REF, else "
    "the working tree)."
)


def open_trust_root(
    workspace: Workspace,
    trust_ref: str | None,
    *,
    base: str | None = None,
    policies: Sequence[Path] = (),
    quiet: bool = False,
) -> TrustRoot:
    """The trust root a command uses; warns on stderr when it is the working tree."""
    from auditpipe.trust.read import choose_ref, open_trust

    trust = open_trust(workspace, choose_ref(trust_ref, base), policies)
    if trust.from_working_tree and not quiet:
        err.print(
            "[yellow]warning:[/] trust from the working tree: keys and policy are read from "
            "files this change can edit; in CI pass --trust-ref origin/<base> "
            "(or set AUDITPIPE_TRUST_REF)"
        )
    return trust


def trust_line(trust: TrustRoot) -> str:
    """The line text outputs end with: where trust came from (already escaped)."""
    return escape(trust.describe())


@app.command
def doctor(remote: str = "origin", /, *, trust_ref: str | None = None, json: bool = False) -> int:
    """Report what this clone can see about the protections trust relies on.

    Where trust comes from, whether the ledger ref was ever force-updated here,
    how the ledger stands against the remote head last fetched, whether
    auditpipe.lock and a CI workflow running the gate exist. Exit 1 when a
    finding is a problem; server-side protections (no force-push on the ledger
    branch, base branch protection, who may edit the CI workflow) cannot be seen
    from here and must be checked on the server.

    Parameters
    ----------
    remote
        The remote whose ledger to compare with (default: origin); nothing is fetched.
    trust_ref
        The trust ref to check (default: $AUDITPIPE_TRUST_REF, else the working tree).
    json
        Print machine-readable output.
    """
    from auditpipe.doctor import diagnose
    from auditpipe.workspace import Workspace

    findings = diagnose(Workspace.discover(), trust_ref, remote)
    problem = any(f.severity == "problem" for f in findings)
    if json:
        print_json(
            {
                "ok": not problem,
                "findings": [
                    {"check": f.check, "severity": f.severity, "message": f.message, "hint": f.hint}
                    for f in findings
                ],
            }
        )
        return 1 if problem else 0
    marks = {"ok": "[green]✓[/]", "note": "[yellow]![/]", "problem": "[bold red]✗[/]"}
    for f in findings:
        out.print(f"{marks[f.severity]} {f.check}: {escape(f.message)}")
        if f.hint and f.severity != "ok":
            out.print(f"    {escape(f.hint)}")
    out.print(
        "not visible from here: protect the base branch, forbid force-pushes to "
        "auditpipe/ledger, and make the gate a required workflow (see README, Threat model)"
    )
    return 1 if problem else 0
