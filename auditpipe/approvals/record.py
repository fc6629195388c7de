"""``auditpipe approve``: sign an approval (or a revocation) into the ledger.

Refused when the artifact's lineage does not verify under the policy, when
the signing key is not a person's, or when that person does not hold the role.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditpipe.approvals.assess import lineage_ids
from auditpipe.approvals.trust import missing_pem, people_public_keys
from auditpipe.errors import CheckFailed, ConfigError, VerificationFailed
from auditpipe.ledger.ledger import Ledger
from auditpipe.manifest.approval import Approval
from auditpipe.manifest.predicates import Digest, PipelineRef
from auditpipe.manifest.statement import Subject, build_statement
from auditpipe.people import People, Person, people_of
from auditpipe.pipeline import facts
from auditpipe.pipeline.artifacts import card_for, project_cards
from auditpipe.pipeline.recorder import sign_and_append
from auditpipe.policy.judge import artifact_digest
from auditpipe.policy.load import load_policy
from auditpipe.policy.trust import policy_verifier
from auditpipe.provenance.lineage import walk
from auditpipe.signing.factory import signer_for
from auditpipe.signing.identities import claimed_signer
from auditpipe.signing.interface import Signer
from auditpipe.trust.read import open_trust
from auditpipe.trust.root import TrustRoot
from auditpipe.workspace import Workspace


@dataclass(frozen=True)
class Recorded:
    entry_id: str
    approval: Approval
    person: Person | None


@dataclass(frozen=True)
class SignOff:
    """How a person signs an approval or a revocation, and what they say with it."""

    key: str | None = None
    passphrase_env: str | None = None
    comment: str | None = None
    ticket: str | None = None
    signer: str | None = None
    identity_token: str | None = None

    def signer_in(self, workspace: Workspace) -> Signer:
        return signer_for(
            workspace, self.key, self.passphrase_env, self.signer, self.identity_token
        )


def approve(
    ledger: Ledger,
    artifact: str,
    role: str,
    policy_path: Path,
    how: SignOff,
    trust: TrustRoot | None = None,
) -> Recorded:
    """Sign an ``approval/v1`` for the artifact as it is in the working tree; people,
    keys and the policy come from ``trust`` (default: the working tree)."""
    workspace = ledger.workspace
    trust = trust or open_trust(workspace, None, [policy_path])
    people = people_of(trust)
    loaded = load_policy(policy_path, trust)
    rel, digest = artifact_digest(workspace, artifact)
    lineage = walk(ledger, policy_verifier(trust, loaded.policy), rel, digest, root=workspace.root)
    if lineage.root is None or not lineage.ok:
        raise VerificationFailed(
            f"refusing to approve {rel}: its lineage does not verify",
            problems=list(lineage.failures()),
            hint="approve only what `auditpipe verify` accepts",
        )
    signing = how.signer_in(workspace)
    person = _approver(workspace.root, people, signing, role)
    card = card_for(project_cards(workspace.root), rel)
    predicate = Approval(
        artifact=rel,
        name=card.name if card else None,
        digest=Digest(sha256=digest),
        role=role,
        lineage=lineage_ids(lineage),
        card=Digest(sha256=card.sha256) if card else None,
        policy=PipelineRef(
            path=workspace.relative(policy_path.resolve()),
            sha256=loaded.sha256,
        ),
        comment=how.comment or None,
        ticket=how.ticket or None,
        approved_at=facts.now_rfc3339(),
        runner=facts.runner(),
    )
    statement = build_statement([Subject(name=rel, digest={"sha256": digest})], predicate)
    return Recorded(sign_and_append(ledger, signing, statement), predicate, person)


def revoke(ledger: Ledger, entry: str, how: SignOff, trust: TrustRoot | None = None) -> Recorded:
    """Withdraw an approval; only the person who signed it may."""
    workspace = ledger.workspace
    people = people_of(trust or open_trust(workspace, None))
    target = ledger.get(ledger.resolve(entry))
    original = target.signed.approval()
    if original is None or original.revokes is not None:
        raise ConfigError(
            f"entry {target.id[:12]} is not an approval",
            hint="give the id `auditpipe approve` printed (see `auditpipe log`)",
        )
    signing = how.signer_in(workspace)
    person = _approver(workspace.root, people, signing, None)
    owner = people.for_signer(claimed_signer(target.bundle))
    if person is not None and owner != person:
        raise CheckFailed(
            f"{person.name} cannot revoke an approval signed by "
            f"{owner.name if owner else 'someone else'}",
            hint="only the person who approved can withdraw their approval",
        )
    predicate = original.model_copy(
        update={
            "revokes": target.id,
            "comment": how.comment or None,
            "ticket": how.ticket or None,
            "approved_at": facts.now_rfc3339(),
            "runner": facts.runner(),
        }
    )
    subject = Subject(name=original.artifact, digest={"sha256": original.digest.sha256})
    statement = build_statement([subject], predicate)
    return Recorded(sign_and_append(ledger, signing, statement), predicate, person)


def _approver(root: Path, people: People, signer: Signer, role: str | None) -> Person | None:
    """The person behind a local key (checked before signing); keyless is judged on use."""
    identity = signer.identity
    if identity.kind != "key":
        return None
    person = people.by_keyid(identity.keyid)
    if person is None:
        raise ConfigError(
            f"key {identity.keyid} is not listed for anyone in {people.source}",
            path=people.source,
            hint="add its keyid under the approver's `keys:` (see `auditpipe keys list`)",
        )
    if role is not None and not person.holds(role):
        raise ConfigError(
            f"{person.name} does not hold the role {role!r} "
            f"(roles: {', '.join(person.roles) or 'none'})",
            path=people.source,
            line=person.line,
            hint="approve in a role you hold, or have the role added in people.yaml",
        )
    if identity.keyid not in people_public_keys(root, people):
        raise missing_pem(identity.keyid or "")
    return person
