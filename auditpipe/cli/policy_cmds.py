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
    artifacts: list[str] | None = None, /, *, ledger: bool = False, json: bool = False
) -> int:
    """Verify a model's provenance, or (with --ledger) the whole ledger.

    Parameters
    ----------
    artifacts
        Files whose lineage to walk back to source data, checking every signature,
        gate and digest on the way.
    ledger
        Verify the whole ledger branch: append-only history, ids, signatures, index.
    json
        Print machine-readable output.
    """
    if ledger:
        from auditpipe.cli.ledger_cmds import verify_ledger_command

        return verify_ledger_command(json)
    if not artifacts:
        raise ConfigError(
            "nothing to verify",
            hint="name artifacts (`auditpipe verify models/model.pkl`) or use "
            "`auditpipe verify --ledger`",
        )
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.people import people_from_worktree
    from auditpipe.policy.render import lineage_json
    from auditpipe.policy.trust import policy_verifier
    from auditpipe.provenance.lineage import walk

    lineages = []
    with Ledger.open() as book:
        people = people_from_worktree(book.workspace.root)
        verifier = policy_verifier(book.workspace, None)
        for path in artifacts:
            rel, digest = _artifact(book.workspace, path)
            lineages.append(walk(book, verifier, rel, digest, root=book.workspace.root))
    if json:
        print_json([lineage_json(lineage) for lineage in lineages])
        return 0 if all(lineage.ok for lineage in lineages) else 1
    for lineage in lineages:
        out.print(_tree(lineage, people))
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


def _decide(policy_path: Path, artifacts: list[str] | None, base: str | None) -> list[Any]:
    from auditpipe.ledger.ledger import Ledger
    from auditpipe.policy.judge import judge
    from auditpipe.policy.load import load_policy

    loaded = load_policy(policy_path)
    with Ledger.open() as book:
        return [decision for _lineage, decision in judge(book, loaded, artifacts, base)]


@app.command
def gate(
    artifacts: list[str] | None = None,
    /,
    *,
    policy: Path,
    base: str | None = None,
    markdown: Path | None = None,
    json: bool = False,
) -> int:
    """Allow or deny artifacts under a policy (for pull requests); exit 1 on deny.

    Parameters
    ----------
    artifacts
        Files to judge as they are in the working tree (default: the policy's `artifacts` globs).
    policy
        The policy file, e.g. policies/default.yaml.
    base
        A git revision to compare metrics against (no-regression rules).
    markdown
        Also write the decision as Markdown to this file ($GITHUB_STEP_SUMMARY is used
        automatically when set).
    json
        Print machine-readable output.
    """
    from auditpipe.policy.render import decision_json, decision_text, decisions_markdown

    decisions = _decide(policy, artifacts, base)
    text = decisions_markdown(decisions)
    if markdown is not None:
        markdown.write_text(text + "\n", encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if json:
        print_json([decision_json(d) for d in decisions])
    else:
        for decision in decisions:
            for line in decision_text(decision):
                out.print(escape(line))
    return 0 if all(d.allow for d in decisions) else 1


@app.command
def promote(
    artifact: str,
    /,
    *,
    to: str,
    policy: Path,
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
    key
        Name of the signing key.
    passphrase_env
        Environment variable holding the key's passphrase.
    """
    from auditpipe.policy.registry import record_promotion
    from auditpipe.policy.render import decision_text

    [decision] = _decide(policy, [artifact], None)
    for line in decision_text(decision):
        out.print(escape(line))
    if not decision.allow:
        err.print(f"not promoted: policy {decision.policy} denies {decision.artifact}")
        return 1
    entry_id = record_promotion(decision, to, policy, key, passphrase_env)
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
