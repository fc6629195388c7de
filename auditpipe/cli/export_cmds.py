"""``export openlineage`` and ``export slsa``: the ledger's facts in other ecosystems' formats,
and the live OpenLineage listener ``run`` uses."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter
from rich.markup import escape

from auditpipe.cli.app import app, err
from auditpipe.errors import ConfigError

if TYPE_CHECKING:
    from auditpipe.export.openlineage.emitter import LiveLineage
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.workspace import Workspace

export_app = App(
    name="export", help="Write the ledger's runs as OpenLineage events or SLSA provenance."
)
app.command(export_app)


def live_lineage(workspace: Workspace, ledger: Ledger) -> LiveLineage | None:
    """The run's OpenLineage listener when the environment configures a client."""
    from auditpipe.export.openlineage.emitter import live_lineage as make

    def warn(message: str) -> None:
        err.print(f"[yellow]warning:[/] {escape(message)}")

    return make(workspace, ledger, warn)


@export_app.command(name="openlineage")
def openlineage(
    *,
    output: Annotated[Path, Parameter(name=["-o", "--output"])],
    since: str | None = None,
    namespace: str | None = None,
    column_stats: bool = False,
) -> int:
    """Write the ledger's stage runs as OpenLineage RunEvents (JSON Lines).

    Only runs signed by a key or identity the project trusts are written (the
    same trust as `auditpipe verify`); others are skipped with a warning.

    Parameters
    ----------
    output
        The .jsonl file to write (one event per line: START, then COMPLETE or FAIL).
    since
        Only runs started at or after this date or time (ISO 8601, e.g. 2026-01-31).
    namespace
        Job namespace (default: $OPENLINEAGE_NAMESPACE, else the repository).
    column_stats
        Include per-column min/max/null counts (min and max are raw data values).
    """
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.errors import VerificationFailed
    from auditpipe.export.openlineage.events import EventContext, events_of
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.policy.trust import policy_verifier

    cutoff = _date(since) if since else None
    lines: list[tuple[str, str, str]] = []
    untrusted: list[str] = []
    with Ledger.open() as book:
        ctx = EventContext.of(book.workspace, namespace, column_stats)
        verifier = policy_verifier(open_trust_root(book.workspace, None, quiet=True), None)
        for entry in book.entries():
            run = entry.signed.stage_run()
            if run is None or (cutoff and _date(run.started_at, "the ledger") < cutoff):
                continue
            try:
                verifier.verify(entry.bundle)
            except VerificationFailed as exc:
                untrusted.append(f"{entry.id[:12]} ({run.stage}): {exc.message}")
                continue
            for event in events_of(ctx, entry):
                lines.append((run.started_at, entry.id, json.dumps(event, sort_keys=True)))
    lines.sort(key=lambda item: (item[0], item[1]))  # oldest first; START before its end
    _write(output, "".join(line + "\n" for _t, _i, line in lines).encode())
    err.print(f"wrote {len(lines)} events ({len(lines) // 2} runs) to {escape(str(output))}")
    if untrusted:
        err.print(
            f"[yellow]warning:[/] skipped {len(untrusted)} runs whose signature is not "
            "trusted (they are history, not evidence):"
        )
        for line in untrusted:
            err.print(f"  {escape(line)}")
    return 0


@export_app.command(name="slsa")
def slsa(
    artifact: str,
    /,
    *,
    output: Annotated[Path, Parameter(name=["-o", "--output"])],
    unsigned: bool = False,
    keyless: bool = False,
    key: str | None = None,
    passphrase_env: str | None = None,
    identity_token: str | None = None,
) -> int:
    """Write SLSA provenance v1 for an artifact's whole lineage, signed as a DSSE envelope.

    Parameters
    ----------
    artifact
        The file whose lineage the provenance describes.
    output
        Where to write the envelope (or, with --unsigned, the statement).
    unsigned
        Write the bare in-toto statement, unsigned.
    keyless
        Sign with sigstore keyless instead of your local key; this publishes the
        signing identity to a public transparency log.
    key
        Name of the local signing key.
    passphrase_env
        Environment variable holding the key's passphrase.
    identity_token
        OIDC identity token for --keyless (default: the CI's ambient credential).
    """
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.export.openlineage.naming import repository_url
    from auditpipe.export.slsa import provenance, signed
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.manifest.canonical import IN_TOTO_PAYLOAD_TYPE
    from auditpipe.policy.judge import artifact_digest
    from auditpipe.policy.trust import policy_verifier
    from auditpipe.provenance.lineage import walk

    if unsigned and keyless:
        raise ConfigError("--unsigned and --keyless contradict each other", hint="choose one")
    with Ledger.open() as book:
        workspace = book.workspace
        rel, digest = artifact_digest(workspace, artifact)
        trust = open_trust_root(workspace, None, quiet=True)  # $AUDITPIPE_TRUST_REF, if set
        lineage = walk(book, policy_verifier(trust, None), rel, digest, root=workspace.root)
        made = provenance(lineage, repository_url(workspace))
    if unsigned:
        data = json.dumps(made.statement, indent=2, sort_keys=True).encode() + b"\n"
    else:
        from auditpipe.signing.factory import signer_for

        signer = signer_for(
            workspace, key, passphrase_env, "sigstore" if keyless else "local", identity_token
        )
        data = signed(signer.sign(made.raw, IN_TOTO_PAYLOAD_TYPE))
    _write(output, data)
    runs = len(made.statement["predicate"]["runDetails"]["byproducts"])
    err.print(
        f"wrote SLSA provenance for {escape(rel)} (sha256 {digest}) over {runs} signed runs "
        f"to {escape(str(output))}{' (unsigned)' if unsigned else ''}"
    )
    return 0


def _date(text: str, where: str = "--since") -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{where}: {text!r} is not an ISO 8601 date or time",
            hint="give e.g. 2026-01-31 or 2026-01-31T12:00:00Z",
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _write(path: Path, data: bytes) -> None:
    """Write the whole file or nothing (temporary file, then rename)."""
    target = path.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}", path=str(path)) from exc
