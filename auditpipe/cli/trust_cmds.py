"""Where trust comes from, for every command that verifies: ``--trust-ref`` and its warning."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from auditpipe.cli.app import err

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
