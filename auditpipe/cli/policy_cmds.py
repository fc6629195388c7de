"""``verify``, ``gate``, ``promote`` and ``registry``: provenance and policy decisions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.errors import ConfigError, VerificationFailed


def _artifact(workspace: Any, path: str) -> tuple[str, str]:
    """(repo-relative path, sha256 now) of an artifact in the working tree."""
    from auditpipe.policy.judge import artifact_digest

    return artifact_digest(workspace, path)


@app.command
def verify(
    artifacts: list[str] | None = None,
    /,
    *,
    ledger: bool = False,
    trust_ref: str | None = None,
    json: bool = False,
) -> int:
    """Verify a model's provenance, or (with --ledger) the whole ledger.

    Parameters
    ----------
    artifacts
        Files whose lineage to walk back to source data, checking every signature,
        gate and digest on the way.
    ledger
        Verify the whole ledger branch: append-only history, ids, signatures, index.
        Entries by signers the trust set does not know are listed as untrusted.
    trust_ref
        Read keys and identities from this git revision (e.g. origin/main), never from
        the working tree (default: $AUDITPIPE_TRUST_REF, else the working tree).
    json
        Print machine-readable output.
    """
    if ledger:
        from auditpipe.cli.ledger_cmds import verify_ledger_command

        return verify_ledger_command(json, trust_ref)
    if not artifacts:
        raise ConfigError(
            "nothing to verify",
            hint="name artifacts (`auditpipe verify models/model.pkl`) or use "
            "`auditpipe verify --ledger`",
        )
    from auditpipe.cli.progress import working
    from auditpipe.cli.trust_cmds import open_trust_root, trust_line
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.people import people_of
    from auditpipe.policy.render import lineage_json
    from auditpipe.policy.trust import policy_verifier
    from auditpipe.provenance.lineage import walk

    lineages = []
    with Ledger.open() as book, working("verifying", enabled=not json) as beat:
        from auditpipe.anchor.pinned import verify_pinned

        trust = open_trust_root(book.workspace, trust_ref, quiet=json)
        # Before anything is read through the index.
        verify_pinned(book, trust)
        verifier = policy_verifier(trust, None)
        people = people_of(trust)
        for path in artifacts:
            beat.set("main", f"verifying the lineage of {path}")
            rel, digest = _artifact(book.workspace, path)
            lineages.append(walk(book, verifier, rel, digest, root=book.workspace.root))
    if json:
        print_json([{**lineage_json(lineage), "trust": trust.as_json()} for lineage in lineages])
        return 0 if all(lineage.ok for lineage in lineages) else 1
    for lineage in lineages:
        out.print(_tree(lineage, people))
    out.print(trust_line(trust))
    failures = [f for lineage in lineages for f in lineage.failures()]
    if failures:
        raise VerificationFailed("provenance verification failed", problems=failures)
    return 0


def _tree(lineage: Any, people: Any) -> Tree:
    mark = "[green]✓[/]" if lineage.ok else "[red]✗[/]"
    tree = Tree(f"{mark} {escape(lineage.artifact)} sha256 {lineage.sha256[:12]}")
    for problem in lineage.problems:
        tree.add(f"[red]{escape(problem)}[/]")
    branches: dict[str, Tree] = {}

    def add(parent: Tree, run_id: str) -> None:
        node = lineage.runs.get(run_id)
        if node is None:
            return
        ok = "[green]✓[/]" if node.ok else "[red]✗[/]"
        person = people.for_signer(node.signer)
        named = f"{person.describe()}, " if person else ""
        signer = f" — {escape(named + node.signer.describe())}" if node.signer else ""
        branch = parent.add(f"{ok} {escape(node.stage)} run {node.id[:12]}{signer}")
        for problem in node.all_problems():
            branch.add(f"[red]{escape(problem)}[/]")
        for entry_id, matches in node.reproductions:
            how = "[green]reproduced[/]" if matches else "[red]reproduced, different products[/]"
            branch.add(f"{how} (entry {entry_id[:12]})")
        if run_id in branches:
            branch.add("[dim](shown above)[/]")
            return
        branches[run_id] = branch
        for parent_id in dict.fromkeys(node.inputs):
            add(branch, parent_id)
        for name in node.sources:
            source = lineage.sources[name]
            smark = "[green]✓[/]" if source.ok else "[red]✗[/]"
            leaf = branch.add(f"{smark} source {escape(name)} sha256 {source.sha256[:12]}")
            for problem in source.problems:
                leaf.add(f"[red]{escape(problem)}[/]")

    if lineage.root:
        add(tree, lineage.root)
    for consumer in lineage.consumers:
        node = lineage.runs[consumer]
        ok = "[green]✓[/]" if node.ok else "[red]✗[/]"
        branch = tree.add(f"{ok} used by {escape(node.stage)} run {node.id[:12]}")
        for problem in node.all_problems():
            branch.add(f"[red]{escape(problem)}[/]")
    return tree


def _decide(
    policy_path: Path,
    artifacts: list[str] | None,
    base: str | None,
    trust_ref: str | None,
    quiet: bool = False,
) -> tuple[list[Any], Any, Any]:
    """(decisions, trust root, loaded policy): the policy read from the trust root."""
    from auditpipe.cli.progress import working
    from auditpipe.cli.trust_cmds import open_trust_root
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.policy.judge import judge
    from auditpipe.policy.load import load_policy

    with Ledger.open() as book:
        from auditpipe.anchor.pinned import verify_pinned

        trust = open_trust_root(
            book.workspace, trust_ref, base=base, policies=[policy_path], quiet=quiet
        )
        # Before anything is read through the index.
        verify_pinned(book, trust)
        loaded = load_policy(policy_path, trust)
        with working(f"judging under {policy_path}", enabled=not quiet):
            judged = judge(book, loaded, trust, artifacts, base)
    return [decision for _lineage, decision in judged], trust, loaded


@app.command
def gate(
    artifacts: list[str] | None = None,
    /,
    *,
    policy: Path,
    base: str | None = None,
    trust_ref: str | None = None,
    markdown: Path | None = None,
    json: bool = False,
) -> int:
    """Allow or deny artifacts under a policy (for pull requests); exit 1 on deny.

    Parameters
    ----------
    artifacts
        Files to judge as they are in the working tree (default: the artifacts the
        pipeline declares, its `artifacts:` or final stages' outputs, that match
        the policy's `artifacts` globs).
    policy
        The policy file, e.g. policies/default.yaml.
    base
        A git revision to compare metrics against (no-regression rules); also the
        default trust ref.
    trust_ref
        Read the policy, keys and identities from this git revision (e.g. origin/main),
        never from the working tree the change can edit (default: --base, else
        $AUDITPIPE_TRUST_REF, else the working tree).
    markdown
        Also write the decision as Markdown to this file ($GITHUB_STEP_SUMMARY is used
        automatically when set).
    json
        Print machine-readable output.
    """
    from auditpipe.cli.trust_cmds import trust_line
    from auditpipe.policy.render import decision_json, decision_text, decisions_markdown

    decisions, trust, _loaded = _decide(policy, artifacts, base, trust_ref, quiet=json)
    text = decisions_markdown(decisions, trust)
    if markdown is not None:
        markdown.write_text(text + "\n", encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if json:
        print_json([decision_json(d, trust) for d in decisions])
    else:
        for decision in decisions:
            for line in decision_text(decision):
                out.print(escape(line))
        out.print(trust_line(trust))
    return 0 if all(d.allow for d in decisions) else 1


@app.command
def promote(
    artifact: str,
    /,
    *,
    to: str,
    policy: Path,
    trust_ref: str | None = None,
    key: str | None = None,
    passphrase_env: str | None = None,
) -> int:
    """Promote an artifact to a stage (e.g. production) if the policy allows it.

    On allow, appends a signed promotion entry; on deny, appends nothing and exits 1.

    Parameters
    ----------
    artifact
        The artifact file.
    to
        The registry stage to promote to (e.g. staging, production).
    policy
        The policy that must allow it.
    trust_ref
        Read the policy, keys and identities from this git revision (e.g. origin/main)
        (default: $AUDITPIPE_TRUST_REF, else the working tree).
    key
        Name of the signing key.
    passphrase_env
        Environment variable holding the key's passphrase.
    """
    from auditpipe.cli.trust_cmds import trust_line
    from auditpipe.policy.registry import record_promotion
    from auditpipe.policy.render import decision_text

    [decision], trust, loaded = _decide(policy, [artifact], None, trust_ref)
    for line in decision_text(decision):
        out.print(escape(line))
    out.print(trust_line(trust))
    if not decision.allow:
        err.print(f"not promoted: policy {decision.policy} denies {decision.artifact}")
        return 1
    entry_id = record_promotion(decision, to, policy, loaded.sha256, key, passphrase_env)
    out.print(f"promoted {decision.artifact} to {to}: {entry_id}")
    return 0


@app.command
def registry(artifact: str | None = None, /, *, json: bool = False) -> int:
    """What is in which registry stage, and the full promotion history.

    Parameters
    ----------
    artifact
        Only this artifact path.
    json
        Print machine-readable output.
    """
    from auditpipe.policy.registry import promotions

    rows = [r for r in promotions() if artifact is None or r["artifact"] == artifact]
    if json:
        print_json(rows)
        return 0
    current: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:  # oldest first, so the last one per (artifact, stage) wins
        current[(row["artifact"], row["stage"])] = row
    out.print("current:")
    for (path, stage), row in sorted(current.items()):
        name = f"{row['name']} ({path})" if row.get("name") else path
        out.print(
            f"  {escape(name)} @ {escape(stage)}: sha256 {row['sha256'][:12]} "
            f"(entry {row['id'][:12]}, {row['time']}, by {escape(row['person'] or row['by'])})"
        )
    out.print("history:")
    for row in reversed(rows):
        out.print(
            f"  {row['time']}  {escape(row['artifact'])} -> {escape(row['stage'])}  "
            f"sha256 {row['sha256'][:12]}  policy {row['policy']}  entry {row['id'][:12]}"
        )
    if not rows:
        err.print("nothing promoted yet")
    return 0
