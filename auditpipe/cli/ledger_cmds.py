"""``record``, ``log``, ``show`` and ``verify --ledger``: write and read the ledger."""

from __future__ import annotations

import json as jsonlib
from typing import TYPE_CHECKING, Annotated, Any, Literal

from cyclopts import Parameter
from rich.markup import escape

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.errors import ConfigError, VerificationFailed

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auditpipe.ledger.entry import Entry
    from auditpipe.ledger.verify import Untrusted


def _parse_assignment(text: str, option: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"{option} {text!r} is not KEY=VALUE", hint=f"write e.g. {option} lr=0.01"
        )
    try:
        value: Any = jsonlib.loads(raw)
    except ValueError:
        value = raw  # a bare word is a string
    return key.strip(), value


def _nest(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``a.b=1`` becomes ``{"a": {"b": 1}}``."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.split(".")
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"key {key!r} conflicts with a value given for {part!r}")
            node = child
        if isinstance(node.get(parts[-1]), dict) and not isinstance(value, dict):
            raise ConfigError(f"key {key!r} conflicts with values given for {key}.*")
        node[parts[-1]] = value
    return result


@app.command
def record(
    *,
    stage: str,
    cmd: str | None = None,
    dep: list[str] | None = None,
    out_: Annotated[list[str] | None, Parameter(name="--out")] = None,
    param: list[str] | None = None,
    metric: list[str] | None = None,
    exit_code: int = 0,
    key: str | None = None,
    passphrase_env: str | None = None,
    signer: Literal["local", "sigstore", "auto"] | None = None,
    identity_token: str | None = None,
    allow_secret: list[str] | None = None,
) -> int:
    """Sign and append one stage-run manifest built from facts given here.

    For steps that run in someone else's orchestrator. Prints the new entry id.

    Parameters
    ----------
    stage
        Stage name.
    cmd
        The command the stage ran.
    dep
        An input file (repeatable).
    out_
        An output file (repeatable); outputs become the statement's subjects.
    param
        A parameter, KEY=VALUE (VALUE parsed as JSON, else a string; repeatable).
    metric
        A metric, KEY=VALUE (repeatable).
    exit_code
        The command's exit code; non-zero records a failed run.
    key
        Name of the signing key (default: $AUDITPIPE_KEY or "default").
    passphrase_env
        Environment variable holding the key's passphrase (default: AUDITPIPE_PASSPHRASE).
    signer
        local (your key), sigstore (keyless, for CI) or auto (sigstore when an OIDC
        credential is available); default: `signer:` in auditpipe.yaml, else local.
    identity_token
        OIDC identity token for keyless signing (default: $AUDITPIPE_IDENTITY_TOKEN,
        else the CI's ambient credential).
    allow_secret
        A param, metric or path that looks like a secret but is not one, or `cmd`
        (repeatable); see "Secrets" in the README.
    """
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.pipeline.recorder import RunFacts, build, check_secrets, sign_and_append
    from auditpipe.signing.factory import signer_for

    params = _nest([_parse_assignment(p, "--param") for p in param or []])
    metrics = _nest([_parse_assignment(m, "--metric") for m in metric or []])
    facts = RunFacts(
        stage=stage,
        command=cmd,
        deps=dep or [],
        outs=out_ or [],
        params=params,
        metrics=metrics,
        exit_code=exit_code,
        allow=frozenset(allow_secret or ()),
    )
    check_secrets(facts)  # before the key is unlocked or the ledger opened
    with Ledger.open() as ledger:
        signing = signer_for(ledger.workspace, key, passphrase_env, signer, identity_token)
        statement = build(ledger, facts)
        entry_id = sign_and_append(ledger, signing, statement)
        from auditpipe.lock.update import update_lock

        update_lock(ledger, signing, {stage: entry_id})
    out.print(entry_id)
    return 0


def _summary(entry: Entry, people: Any) -> dict[str, Any]:
    signed = entry.signed
    predicate = signed.statement.predicate
    when = predicate.get("finishedAt") or predicate.get("promotedAt") or predicate.get("createdAt")
    from auditpipe.signing.identities import claimed_signer

    who = claimed_signer(entry.bundle)  # as the bundle claims; `verify` checks it
    return {
        "id": entry.id,
        "kind": signed.kind,
        "stage": signed.stage,
        "status": predicate.get("status"),
        "time": when,
        "commit": entry.commit,
        "signer": who.keyid or who.identity,
        "signerKind": who.kind,
        "person": (person.describe() if (person := people.for_signer(who)) else None),
        "subjects": [{"name": s.name, "sha256": s.sha256} for s in signed.statement.subject],
    }


@app.command
def log(
    *,
    stage: str | None = None,
    n: Annotated[int | None, Parameter(name=["-n", "--max-count"])] = None,
    json: bool = False,
) -> int:
    """List ledger entries, newest first.

    Parameters
    ----------
    stage
        Only entries of this stage.
    n
        Show at most this many entries.
    json
        Print machine-readable output.
    """
    rows: list[dict[str, Any]] = []
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.people import people_from_worktree

    with Ledger.open() as ledger:
        people = people_from_worktree(ledger.workspace.root)
        wanted = set(ledger.ids_for_stage(stage)) if stage else None
        for entry in ledger.entries():
            if n is not None and len(rows) >= n:
                break
            if wanted is not None and entry.id not in wanted:
                continue
            rows.append(_summary(entry, people))
    if json:
        print_json(rows)
        return 0
    for row in rows:
        label = row["stage"] or "-"
        status = row["status"] or "-"
        out.print(
            f"{row['id'][:12]}  {row['time'] or '-':<27}  {row['kind']:<10}  "
            f"{escape(label):<16}  {status:<11}  "
            + (
                escape(row["person"])
                if row["person"]
                else f"key {str(row['signer'])[:12]}"
                if row["signerKind"] == "key"
                else f"sigstore {escape(str(row['signer']))}"
            )
        )
    if not rows:
        err.print("no entries")
    return 0


@app.command
def show(entry_id: str, /, *, json: bool = False) -> int:
    """Show one entry: its statement, signer and where it lives.

    Parameters
    ----------
    entry_id
        An entry id or a unique prefix of one (at least 4 characters).
    json
        Print the statement and bundle as JSON.
    """
    from auditpipe.ledger.ledger import Ledger

    with Ledger.open() as ledger:
        entry = ledger.get(ledger.resolve(entry_id))
        statement = jsonlib.loads(entry.bundle.payload)
        if json:
            print_json(
                {"id": entry.id, "statement": statement, "bundle": jsonlib.loads(entry.bundle.raw)}
            )
            return 0
        from auditpipe.ledger.layout import entry_path_str

        out.print(f"entry     {entry.id}")
        out.print(f"kind      {entry.kind}")
        from auditpipe.people import people_from_worktree
        from auditpipe.signing.identities import claimed_signer

        claimed = claimed_signer(entry.bundle)
        person = people_from_worktree(ledger.workspace.root).for_signer(claimed)
        named = f"{person.describe()}, " if person else ""
        out.print(f"signer    {escape(named + claimed.describe())}")
        out.print(f"stored at auditpipe/ledger:{entry_path_str(entry.id)}")
        from auditpipe.gates import describe_failure

        run = entry.signed.stage_run()
        for v in run.validations if run else []:
            verdict = "passed" if v.success else "FAILED"
            out.print(f"gate      {verdict}  {escape(v.data)} vs {escape(v.suite_path)}")
            for failure in v.failed_expectations:
                out.print(f"            - {escape(describe_failure(failure))}")
        out.print(escape(jsonlib.dumps(statement, indent=2, sort_keys=True)))
    return 0


def verify_ledger_command(json: bool, trust_ref: str | None = None) -> int:
    """``auditpipe verify --ledger``: the whole branch, every rule, every entry,
    and consistency with every checkpoint known (the working tree's lock, the
    trust ref's lock, this clone's last state).

    Entries by signers the trust set does not know are listed, never failures.
    """
    from auditpipe.anchor.pinned import verify_pinned
    from auditpipe.cli.trust_cmds import open_trust_root, trust_line
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.ledger.verify import Problem, verify_ledger
    from auditpipe.signing.factory import verifier_for

    hint: str | None = None
    with Ledger.open() as book:
        trust = open_trust_root(book.workspace, trust_ref, quiet=json)
        report = verify_ledger(book.store, verifier_for(trust))
        try:
            anchored = verify_pinned(book, trust)
        except VerificationFailed as exc:
            anchored, hint = None, exc.hint
            report.problems.append(Problem(exc.message))
            report.problems.extend(Problem(p) for p in exc.problems)
    if json:
        print_json(
            {
                "ok": report.ok,
                "head": report.head,
                "entries": report.entries,
                "commits": report.commits,
                "signers": report.signers,
                "checkpoint": (
                    anchored.checkpoint.body() if anchored and anchored.checkpoint else None
                ),
                "legacy": report.legacy,
                "problems": [
                    {"entry": p.entry, "commit": p.commit, "message": p.message}
                    for p in report.problems
                ],
                "untrusted": untrusted_json(report.untrusted),
                "trust": trust.as_json(),
            }
        )
        return 0 if report.ok else 1
    if not report.ok:
        raise VerificationFailed(
            f"ledger verification failed: {len(report.problems)} problem(s)",
            problems=[p.describe() for p in report.problems],
            hint=hint,
        )
    signers = (
        ", ".join(f"{k[:12] if len(k) == 64 else k}×{v}" for k, v in sorted(report.signers.items()))
        or "none"
    )
    head = report.head[:12] if report.head else "-"
    untrusted = f", {len(report.untrusted)} untrusted" if report.untrusted else ""
    out.print(
        f"ledger OK: {report.entries} entries in {report.commits} commits{untrusted}, "
        f"head {head}, signers {signers}"
    )
    print_untrusted(report.untrusted)
    if anchored is not None and anchored.pins:
        out.print(f"consistent with the checkpoint in {', '.join(anchored.pins)}")
    if report.legacy:
        shown = ", ".join(entry[:12] for entry in report.legacy[:10])
        more = f" and {len(report.legacy) - 10} more" if len(report.legacy) > 10 else ""
        out.print(
            f"{len(report.legacy)} legacy entries (byte form written before format 1, "
            f"accepted as dated before it): {shown}{more}"
        )
    out.print(trust_line(trust))
    return 0


def untrusted_json(untrusted: Sequence[Untrusted]) -> list[dict[str, str]]:
    return [{"entry": u.entry, "signer": u.signer, "message": u.message} for u in untrusted]


def print_untrusted(untrusted: Sequence[Untrusted]) -> None:
    """List entries by unknown signers: valid history that never counts as evidence."""
    for u in untrusted:
        out.print(f"  untrusted: {u.entry} ({escape(u.message)}); it never counts as evidence")
