"""The appendix of an artifact report: how to re-check every item without auditpipe's word.

For each entry, the commands that print it (through auditpipe, and with plain
git from the ledger branch); for each file, ``sha256sum`` (``auditpipe
fingerprint`` for a directory's Merkle digest); for each signing
key, the command that recomputes its keyid from the committed public key.
"""

from __future__ import annotations

import shlex

from auditpipe.ledger.layout import entry_path_str
from auditpipe.report.views import PromotionView, Recheck, Row, RunView, SourceView


def entry_commands(entry_id: str) -> list[str]:
    """Commands that print an entry: through auditpipe, and with plain git."""
    return [
        f"auditpipe show {entry_id}",
        f"git show auditpipe/ledger:{entry_path_str(entry_id)}",
    ]


def digest_command(path: str, directories: set[str]) -> str:
    """``sha256sum`` for a file; a directory's Merkle digest needs ``auditpipe fingerprint``."""
    if path in directories:
        return f"auditpipe fingerprint {shlex.quote(path)}"
    return f"sha256sum {shlex.quote(path)}"


def rechecks(
    artifact: str,
    sha256: str,
    runs: list[RunView],
    sources: list[SourceView],
    promotions: list[PromotionView],
    directories: set[str],
) -> list[Recheck]:
    """Every item of the report, what re-checking it must print, and the commands to run."""
    checks = [Recheck("artifact", artifact, sha256, [digest_command(artifact, directories)])]
    checks += [Recheck(f"run {r.stage}", r.id, r.id, entry_commands(r.id)) for r in runs]
    checks += [
        Recheck(
            "code" if s.code else "source data",
            s.name,
            s.sha256,
            [digest_command(s.name, directories)],
        )
        for s in sources
    ]
    checks += [
        Recheck(f"promotion to {p.stage}", p.id, p.id, entry_commands(p.id)) for p in promotions
    ]
    key_files = dict.fromkeys(
        (r.signer.keyid, r.signer.key_file) for r in runs if r.signer.key_file
    )
    checks += [
        Recheck(
            "signing key",
            key_file,
            keyid,
            [f"openssl pkey -pubin -in {shlex.quote(key_file)} -outform DER | sha256sum"],
        )
        for keyid, key_file in key_files
    ]
    return checks


def signing_keys(runs: list[RunView]) -> list[Row]:
    """Each key the runs were signed with, and where its public key is committed."""
    found: dict[str, str] = {}
    for run in runs:
        if run.signer.keyid and run.signer.keyid not in found:
            found[run.signer.keyid] = run.signer.key_file or "not among the trusted keys"
    return [Row(keyid, where) for keyid, where in found.items()]
