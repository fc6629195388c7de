"""The authors of a lineage: everyone who may not approve it.

The people who signed its runs, and the git authors and committers of the
commits its runs recorded (matched to people by e-mail), so that runs signed
by a CI identity still name the humans whose code they ran.
"""

from __future__ import annotations

import re

from auditpipe.errors import Error
from auditpipe.ledger.ledger import Ledger
from auditpipe.people import People
from auditpipe.provenance.lineage import Lineage
from auditpipe.signing.identities import claimed_signer

_EMAIL = re.compile(rb"<([^<>]+)>\s*$")


def lineage_authors(ledger: Ledger, lineage: Lineage, people: People) -> dict[str, str]:
    """Lower-cased e-mail of each listed person who authored the lineage -> why."""
    authors: dict[str, str] = {}
    commits: dict[str, str] = {}
    for node in lineage.all_runs():
        signer = node.signer
        if signer is None:  # untrusted or broken: attribute it by what it claims
            try:
                signer = claimed_signer(ledger.get(node.id).bundle)
            except Error:
                signer = None
        person = people.for_signer(signer)
        if person is not None:
            authors.setdefault(person.email.lower(), f"signed run {node.id[:12]} ({node.stage})")
        if node.run is not None and node.run.code.commit:
            commits.setdefault(node.run.code.commit, node.stage)
    if not commits:
        return authors
    repo = ledger.workspace.open()
    try:
        for commit_id, stage in commits.items():
            try:
                commit = repo[commit_id.encode()]
            except (KeyError, ValueError):
                continue
            for role, raw in (
                ("authored", getattr(commit, "author", b"")),
                ("committed", getattr(commit, "committer", b"")),
            ):
                match = _EMAIL.search(raw)
                person = people.by_email(match[1].decode("utf-8", "replace") if match else None)
                if person is not None:
                    authors.setdefault(
                        person.email.lower(),
                        f"{role} commit {commit_id[:12]} that the {stage} run recorded",
                    )
    finally:
        repo.close()
    return authors
