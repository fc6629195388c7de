"""``auditpipe approve``: sign off an artifact in a role, or withdraw a sign-off."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rich.markup import escape

from auditpipe.cli.app import app, out
from auditpipe.errors import ConfigError


@app.command
def approve(
    artifact: str | None = None,
    /,
    *,
    role: str | None = None,
    policy: Path | None = None,
    key: str | None = None,
    passphrase_env: str | None = None,
    comment: str | None = None,
    ticket: str | None = None,
    revoke: str | None = None,
    signer: Literal["local", "sigstore", "auto"] | None = None,
    identity_token: str | None = None,
    trust_ref: str | None = None,
) -> int:
    """Approve an artifact in a role (a signed approval entry), or --revoke one.

    The approval is bound to the artifact's sha256, its lineage's entry ids,
    its model card and the policy: if any of them changes, it stops counting.

    Parameters
    ----------
    artifact
        The artifact file, as it is in the working tree.
    role
        The role you approve in (one of yours in policies/people.yaml), e.g. validator.
    policy
        The policy the approval is for (default: the one policy whose `artifacts` match).
    key
        Name of your signing key (listed for you in policies/people.yaml).
    passphrase_env
        Environment variable holding the key's passphrase.
    comment
        What you checked, in a sentence.
    ticket
        The change or validation ticket this approval belongs to.
    revoke
        Withdraw the approval with this entry id (signed by the same person).
    signer
        local (your key), sigstore (keyless: your identity must be listed for you in
        policies/people.yaml) or auto; default: `signer:` in auditpipe.yaml, else local.
    identity_token
        An OIDC identity token for keyless signing (else $AUDITPIPE_IDENTITY_TOKEN or the CI's).
    trust_ref
        Read people, keys and the policy from this git revision (default:
        $AUDITPIPE_TRUST_REF, else the working tree). Gates always judge approvals
        with their own trust ref, whatever was used here.
    """
    from auditpipe.approvals.record import SignOff
    from auditpipe.approvals.record import approve as record_approval
    from auditpipe.approvals.record import revoke as record_revoke
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.ledger.ledger import Ledger

    how = SignOff(key, passphrase_env, comment, ticket, signer, identity_token)
    with Ledger.open() as ledger:
        if revoke is not None:
            trust = open_trust_root(ledger.workspace, trust_ref)
            done = record_revoke(ledger, revoke, how, trust)
            who = done.person.describe() if done.person else "you"
            out.print(
                f"revoked {done.approval.revokes} ({escape(done.approval.role)} approval of "
                f"{escape(done.approval.artifact)}) by {escape(who)}: {done.entry_id}"
            )
            return 0
        if artifact is None or role is None:
            raise ConfigError(
                "approve needs an artifact and --role",
                hint="e.g. `auditpipe approve models/model.pkl --role validator --comment ...`",
            )
        chosen = policy or _governing_policy(ledger.workspace.root, artifact)
        trust = open_trust_root(ledger.workspace, trust_ref, policies=[chosen])
        done = record_approval(ledger, artifact, role, chosen, how, trust)
    who = done.person.describe() if done.person else "you"
    out.print(
        f"approved {escape(done.approval.artifact)} as {escape(role)} by {escape(who)} "
        f"under {escape(done.approval.policy.path)}: {done.entry_id}"
    )
    return 0


def _governing_policy(root: Path, artifact: str) -> Path:
    """The one policy under ``policies/`` whose ``artifacts`` globs match the artifact."""
    import os

    from auditpipe.policy.load import load_policy
    from auditpipe.policy.scope import governed
    from auditpipe.trust.read import open_trust
    from auditpipe.workspace import Workspace

    rel = Path(os.path.abspath(artifact)).relative_to(root).as_posix()
    candidates = [
        path
        for path in sorted((root / "policies").glob("*.yaml"))
        if path.name not in ("people.yaml", "identities.yaml")
    ]
    trust = open_trust(Workspace.discover(root), None, candidates)  # read once, not per policy
    matches = []
    for path in candidates:
        loaded = load_policy(path, trust)
        if rel in governed(root, loaded.policy.artifacts):
            matches.append(path)
    if len(matches) != 1:
        found = ", ".join(p.name for p in matches) or "none"
        raise ConfigError(
            f"cannot tell which policy governs {rel} (matching: {found})",
            hint="name it with --policy policies/<name>.yaml",
        )
    return matches[0]
