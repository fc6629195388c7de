"""Tamper matrix: every way of rewriting the ledger is caught by ``verify --ledger``.

Tampering is done the way an attacker with write access to the repository would
do it: with git plumbing on the ledger branch (a temporary ``GIT_INDEX_FILE``,
``hash-object``/``update-index``/``write-tree``/``commit-tree``/``update-ref``),
never through auditpipe. Each case must exit 1 and name the entry (or, for ref
moves, the rollback/rewrite).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from auditpipe.ledger import Ledger
from auditpipe.manifest import canonical_bytes, pae
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing import KeyStore, LocalSigner, key_bundle
from auditpipe.signing.der import low_s
from auditpipe.signing.keys import securesystemslib_keyid
from tests.conftest import GIT_ENV, Project, Result, run_auditpipe

Cli = Callable[..., Result]
LEDGER_REF = "refs/heads/auditpipe/ledger"


# -- git plumbing ----------------------------------------------------------------


def plumb(root: Path, *args: str, stdin: bytes | None = None, index: Path | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    if index is not None:
        env["GIT_INDEX_FILE"] = str(index)
    proc = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, env=env)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode().strip()


def entry_path(entry_id: str) -> str:
    return f"entries/{entry_id[:2]}/{entry_id}.sigstore.json"


def read_blob(root: Path, rev: str, path: str) -> bytes:
    proc = subprocess.run(
        ["git", "cat-file", "blob", f"{rev}:{path}"],
        cwd=root,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return proc.stdout


def commit_on_ledger(
    root: Path,
    changes: dict[str, bytes | None],
    *,
    parent: str | None = None,
    tree_from: str | None = None,
    move_ref: bool = True,
    message: str = "tamper\n",
) -> str:
    """A commit on ``parent`` (default: the ledger head) via plumbing only.

    Its tree is ``tree_from``'s (default: the parent's) with ``changes`` applied
    (``None`` deletes a path). A throwaway index file is used, so the user's
    ``.git/index`` is never touched.
    """
    current = plumb(root, "rev-parse", LEDGER_REF)
    parent = parent or current
    index = root.parent / "tamper.index"
    index.unlink(missing_ok=True)
    plumb(root, "read-tree", tree_from or parent, index=index)
    lines = []
    for path, data in changes.items():
        if data is None:
            lines.append(f"0 {'0' * 40}\t{path}")
        else:
            blob = plumb(root, "hash-object", "-w", "--stdin", stdin=data)
            lines.append(f"100644 {blob}\t{path}")
    if lines:
        info = ("\n".join(lines) + "\n").encode()
        plumb(root, "update-index", "--index-info", stdin=info, index=index)
    tree = plumb(root, "write-tree", index=index)
    commit = plumb(root, "commit-tree", tree, "-p", parent, "-m", message)
    if move_ref:
        plumb(root, "update-ref", LEDGER_REF, commit, current)
    index.unlink()
    return commit


# -- fixtures and checks -----------------------------------------------------------


@dataclass
class Ledger3:
    project: Project
    ids: list[str]  # oldest first
    tip: str

    @property
    def root(self) -> Path:
        return self.project.root

    def bundle(self, entry_id: str) -> bytes:
        return read_blob(self.root, LEDGER_REF, entry_path(entry_id))


@pytest.fixture
def ledger3(project: Project, cli: Cli) -> Ledger3:
    """Three recorded runs, verified once (so this clone remembers the head)."""
    ids = []
    for stage, metric in (("prepare", "rows=100"), ("train", "acc=0.9"), ("evaluate", "f1=0.8")):
        result = cli("record", "--stage", stage, "--out", "src/train.py", "--metric", metric)
        assert result.code == 0, result.err
        ids.append(result.out.strip())
    verified = cli("verify", "--ledger")
    assert verified.code == 0, verified.err
    return Ledger3(project, ids, plumb(project.root, "rev-parse", LEDGER_REF))


def verify_fails(cli: Cli, *names: str) -> str:
    """Run ``auditpipe verify --ledger``; it must exit 1 and name each of ``names``."""
    result = cli("verify", "--ledger")
    assert result.code == 1, (result.out, result.err)
    assert "ledger verification failed" in result.err
    for name in names:
        assert name in result.err, result.err
    assert "Traceback" not in result.err
    return result.err


def problems(cli: Cli) -> list[dict[str, str | None]]:
    result = cli("verify", "--ledger", "--json")
    assert result.code == 1, result.out
    report = json.loads(result.out)
    assert report["ok"] is False
    return report["problems"]


def blamed_entries(cli: Cli) -> set[str | None]:
    """The entries ``verify --ledger --json`` blames (problems not about one entry aside)."""
    return {p["entry"] for p in problems(cli) if p["entry"] is not None}


def trusted_signer(project: Project) -> LocalSigner:
    key = KeyStore(project.config_dir / "keys").private_key("default")
    return LocalSigner(key, "default")


def forget_verified_head(project: Project) -> None:
    """Simulate a fresh clone: no remembered head, so only the content checks remain."""
    (project.root / ".git" / "auditpipe" / "verified-head").unlink()


def flip_base64_char(text: str, position: int | None = None) -> str:
    at = len(text) // 2 if position is None else position
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


# -- controls ------------------------------------------------------------------------


def test_untampered_ledger_verifies(ledger3: Ledger3, cli: Cli) -> None:
    result = cli("verify", "--ledger")
    assert result.code == 0, result.err
    assert "ledger OK: 3 entries in 4 commits" in result.out
    report = json.loads(cli("verify", "--ledger", "--json").out)
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["entries"] == 3


def test_plumbing_commit_without_changes_is_an_empty_append(ledger3: Ledger3, cli: Cli) -> None:
    """A commit that adds nothing is not an append (the control for the harness,
    a plumbing commit of a well-formed entry, is in test_ledger_format.py)."""
    index_before = (ledger3.root / ".git" / "index").read_bytes()
    commit = commit_on_ledger(ledger3.root, {})
    verify_fails(cli, "commit adds no entry", commit[:12])
    assert (ledger3.root / ".git" / "index").read_bytes() == index_before


# -- (a) one byte changed -------------------------------------------------------------


def _change_one_byte(bundle_bytes: bytes, field: str) -> bytes:
    """Replace one character of a base64 field (or of the key hint) in the stored bytes."""
    bundle = json.loads(bundle_bytes)
    key, old = {
        "payload": ("payload", bundle["dsseEnvelope"]["payload"]),
        "signature": ("sig", bundle["dsseEnvelope"]["signatures"][0]["sig"]),
        "hint": ("hint", bundle["verificationMaterial"]["publicKey"]["hint"]),
    }[field]
    needle = f'"{key}":"{old}"'.encode()
    assert bundle_bytes.count(needle) == 1
    changed = bundle_bytes.replace(needle, f'"{key}":"{flip_base64_char(old)}"'.encode())
    assert len(changed) == len(bundle_bytes)
    assert sum(a != b for a, b in zip(changed, bundle_bytes, strict=True)) == 1
    return changed


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("payload", "payload hashes to"),
        ("signature", "invalid signature"),
        ("hint", "the bundle was altered"),
    ],
)
def test_one_byte_changed_in_an_entry(ledger3: Ledger3, cli: Cli, field: str, reason: str) -> None:
    victim = ledger3.ids[0]
    changed = _change_one_byte(ledger3.bundle(victim), field)
    commit_on_ledger(ledger3.root, {entry_path(victim): changed})
    err = verify_fails(cli, victim)
    assert "entry modified" in err
    assert reason in err
    assert blamed_entries(cli) == {victim}


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("payload", "payload hashes to"),
        ("signature", "invalid signature"),
        ("hint", "the bundle was altered"),
    ],
)
def test_one_byte_changed_with_history_rewritten(
    ledger3: Ledger3, cli: Cli, field: str, reason: str
) -> None:
    """The attacker rewrites the commit that added the entry, in a fresh clone.

    No commit modifies an entry and there is no remembered head, so only the
    entry's own checks (id, signature, trust) can catch it.
    """
    victim = ledger3.ids[-1]  # added by the tip commit, which we replace
    changed = _change_one_byte(ledger3.bundle(victim), field)
    commit_on_ledger(ledger3.root, {entry_path(victim): changed}, parent=f"{ledger3.tip}~1")
    forget_verified_head(ledger3.project)
    err = verify_fails(cli, victim, reason)
    assert "entry modified" not in err


# -- (b) deleted ----------------------------------------------------------------------


def test_entry_deleted(ledger3: Ledger3, cli: Cli) -> None:
    victim = ledger3.ids[1]
    commit_on_ledger(ledger3.root, {entry_path(victim): None})
    err = verify_fails(cli, victim, "entry deleted")
    assert ledger3.ids[0] not in err


def test_entry_and_its_index_deleted(ledger3: Ledger3, cli: Cli) -> None:
    """A careful attacker also removes the index paths; the history still tells."""
    victim = ledger3.ids[1]
    index_paths = plumb(ledger3.root, "ls-tree", "-r", "--name-only", LEDGER_REF, "index")
    changes: dict[str, bytes | None] = {entry_path(victim): None}
    changes.update({p: None for p in index_paths.splitlines() if p.endswith(victim)})
    assert len(changes) >= 3
    commit_on_ledger(ledger3.root, changes)
    verify_fails(cli, victim, "entry deleted")


# -- (c) re-signed different statement under the same path -----------------------------


def _resigned(ledger3: Ledger3, entry_id: str) -> bytes:
    """A different, valid statement signed with the trusted key."""
    payload = base64.b64decode(json.loads(ledger3.bundle(entry_id))["dsseEnvelope"]["payload"])
    statement = json.loads(payload)
    statement["predicate"]["metrics"] = {"acc": 0.99}
    forged = SignedStatement.parse(canonical_bytes(statement))  # valid and canonical
    assert forged.id != entry_id
    return trusted_signer(ledger3.project).sign(forged.raw)


def test_entry_replaced_by_resigned_statement(ledger3: Ledger3, cli: Cli) -> None:
    victim = ledger3.ids[1]
    commit_on_ledger(ledger3.root, {entry_path(victim): _resigned(ledger3, victim)})
    verify_fails(cli, victim, "entry modified", "payload hashes to")


def test_entry_replaced_by_resigned_statement_with_history_rewritten(
    ledger3: Ledger3, cli: Cli
) -> None:
    victim = ledger3.ids[-1]
    forged = _resigned(ledger3, victim)
    commit_on_ledger(ledger3.root, {entry_path(victim): forged}, parent=f"{ledger3.tip}~1")
    forget_verified_head(ledger3.project)
    verify_fails(cli, victim, "payload hashes to")


# -- (d) payloads swapped ----------------------------------------------------------------


def test_payload_swapped_between_entries(ledger3: Ledger3, cli: Cli) -> None:
    first, second = ledger3.ids[0], ledger3.ids[2]
    a, b = json.loads(ledger3.bundle(first)), json.loads(ledger3.bundle(second))
    a_payload, b_payload = a["dsseEnvelope"]["payload"], b["dsseEnvelope"]["payload"]
    a["dsseEnvelope"]["payload"], b["dsseEnvelope"]["payload"] = b_payload, a_payload
    commit_on_ledger(
        ledger3.root,
        {entry_path(first): json.dumps(a).encode(), entry_path(second): json.dumps(b).encode()},
    )
    err = verify_fails(cli, first, second, "payload hashes to")
    assert f"payload hashes to {second}" in err  # first's file now carries second's payload
    assert f"payload hashes to {first}" in err


def test_whole_bundles_swapped_with_history_rewritten(ledger3: Ledger3, cli: Cli) -> None:
    """Both bundles are validly signed; only the id check can catch the swap."""
    first, second = ledger3.ids[1], ledger3.ids[2]
    first_bundle, second_bundle = ledger3.bundle(first), ledger3.bundle(second)
    # Rebuild the last two commits so each adds the other's bundle under its own name:
    # no commit modifies an entry, and the tip keeps its original index.
    middle = commit_on_ledger(
        ledger3.root,
        {entry_path(first): second_bundle},
        parent=f"{ledger3.tip}~2",
        tree_from=f"{ledger3.tip}~1",
        move_ref=False,
    )
    commit_on_ledger(
        ledger3.root,
        {entry_path(first): second_bundle, entry_path(second): first_bundle},
        parent=middle,
        tree_from=ledger3.tip,
    )
    forget_verified_head(ledger3.project)
    err = verify_fails(cli, first, second)
    assert "entry modified" not in err
    assert f"entry {first}: payload hashes to {second}" in err
    assert f"entry {second}: payload hashes to {first}" in err


# -- (e) signed by an untrusted key ---------------------------------------------------


def test_entry_signed_by_untrusted_key(ledger3: Ledger3, cli: Cli) -> None:
    """Valid history by an unknown signer: listed as untrusted, never a ledger failure
    (else any writer could stop every sync); it never counts as evidence."""
    generated = cli("keys", "generate", "--name", "other", "--json")
    assert generated.code == 0, generated.err
    other_keyid = json.loads(generated.out)["keyid"]
    result = cli("record", "--stage", "train", "--key", "other", "--out", "README.md")
    assert result.code == 0, result.err
    rogue = result.out.strip()
    verified = cli("verify", "--ledger")
    assert verified.code == 0, verified.err
    assert "1 untrusted" in verified.out
    assert f"untrusted: {rogue}" in verified.out and other_keyid in verified.out
    for honest in ledger3.ids:
        assert honest not in verified.out
    report = json.loads(cli("verify", "--ledger", "--json").out)
    assert report["ok"] is True and report["problems"] == []
    assert report["untrusted"] == [
        {
            "entry": rogue,
            "signer": f"key {other_keyid}",
            "message": f"untrusted signer: key {other_keyid}, which is not trusted "
            "(not in policies/keys/)",
        }
    ]
    assert cli("verify", "README.md").code == 1  # and it is no evidence for the file


def test_untrusted_entry_is_the_only_thing_reported(ledger3: Ledger3, cli: Cli) -> None:
    """The index written by a real append is correct; only the signer is unknown,
    which is reported as untrusted and nothing else."""
    assert cli("keys", "generate", "--name", "other").code == 0
    result = cli("record", "--stage", "train", "--key", "other", "--out", "README.md")
    assert result.code == 0, result.err
    report = json.loads(cli("verify", "--ledger", "--json").out)
    assert report["problems"] == []
    assert [u["entry"] for u in report["untrusted"]] == [result.out.strip()]


# -- (f) payloadType changed ------------------------------------------------------------


def test_payload_type_changed_in_place(ledger3: Ledger3, cli: Cli) -> None:
    victim = ledger3.ids[0]
    bundle = json.loads(ledger3.bundle(victim))
    bundle["dsseEnvelope"]["payloadType"] = "application/json"
    commit_on_ledger(ledger3.root, {entry_path(victim): json.dumps(bundle).encode()})
    verify_fails(cli, victim, "payloadType")


def test_entry_validly_signed_under_another_payload_type(ledger3: Ledger3, cli: Cli) -> None:
    """Signed by the trusted key, consistent id, but not an in-toto payload type."""
    payload = base64.b64decode(
        json.loads(ledger3.bundle(ledger3.ids[0]))["dsseEnvelope"]["payload"]
    )
    statement = json.loads(payload)
    statement["predicate"]["stage"] = "smuggled"
    payload = canonical_bytes(statement)
    key = KeyStore(ledger3.project.config_dir / "keys").private_key("default")
    keyid = trusted_signer(ledger3.project).identity.keyid
    assert keyid is not None
    signature = low_s(key.sign(pae("application/json", payload), ec.ECDSA(hashes.SHA256())))
    sslib_keyid = securesystemslib_keyid(key.public_key())
    bundle = key_bundle(payload, signature, keyid, "application/json", sslib_keyid)
    with Ledger.open(str(ledger3.root)) as ledger:
        smuggled = ledger.append(bundle)
    assert smuggled == hashlib.sha256(payload).hexdigest()
    err = verify_fails(cli, smuggled, "payloadType")
    assert blamed_entries(cli) == {smuggled}
    assert "application/json" in err


# -- (g) ref force-moved to a sibling history -------------------------------------------


def test_ref_force_moved_to_sibling_history(ledger3: Ledger3, cli: Cli) -> None:
    root = ledger3.root
    # Build a sibling of the tip with real auditpipe entries: rewind, record, restore.
    plumb(root, "update-ref", LEDGER_REF, f"{ledger3.tip}~1")
    result = cli("record", "--stage", "evaluate", "--out", "README.md", "--metric", "f1=0.99")
    assert result.code == 0, result.err
    sibling = plumb(root, "rev-parse", LEDGER_REF)
    assert plumb(root, "rev-parse", f"{sibling}~1") == plumb(root, "rev-parse", f"{ledger3.tip}~1")
    plumb(root, "update-ref", LEDGER_REF, ledger3.tip, sibling)
    # That record pinned the sibling in auditpipe.lock; this test is about the
    # clone's own state, so drop the lock (test_checkpoint_attacks covers locks).
    (root / "auditpipe.lock").unlink()
    control = cli("verify", "--ledger")
    assert control.code == 0, control.err  # back on the verified history: fine

    plumb(root, "update-ref", LEDGER_REF, sibling, ledger3.tip)  # the force-move
    err = verify_fails(cli, "rolled back or rewritten", ledger3.tip[:12], sibling[:12])
    assert "does not descend from the last head this clone verified" in err


# -- (h) rollback ---------------------------------------------------------------------------


def test_ref_moved_back_to_an_ancestor(ledger3: Ledger3, cli: Cli) -> None:
    root = ledger3.root
    ancestor = plumb(root, "rev-parse", f"{ledger3.tip}~2")
    plumb(root, "update-ref", LEDGER_REF, ancestor, ledger3.tip)
    verify_fails(cli, "rolled back or rewritten", ledger3.tip[:12])
    # The rollback is not forgiven by a later append on top of the old head.
    result = cli("record", "--stage", "late", "--out", "README.md")
    assert result.code == 0, result.err
    verify_fails(cli, "rolled back or rewritten", ledger3.tip[:12])
    # Moving the ref forward again to the verified head (or past it) is accepted
    # (once the lock that pinned the rolled-back branch is gone).
    plumb(root, "update-ref", LEDGER_REF, ledger3.tip)
    (root / "auditpipe.lock").unlink()
    assert cli("verify", "--ledger").code == 0


def test_ledger_branch_deleted_after_verify(ledger3: Ledger3, cli: Cli) -> None:
    plumb(ledger3.root, "update-ref", "-d", LEDGER_REF)
    verify_fails(cli, "the ledger branch is gone", ledger3.tip)


# -- malformed bundles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not json\n", id="not-json"),
        pytest.param(b'{"hello": "world"}', id="json-not-bundle"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
        pytest.param(
            json.dumps(
                {
                    "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                    "verificationMaterial": {"publicKey": {"hint": "x"}, "tlogEntries": []},
                    "messageSignature": {
                        "messageDigest": {"algorithm": "SHA2_256", "digest": "AAAA"},
                        "signature": "AAAA",
                    },
                }
            ).encode(),
            id="bundle-without-dsse",
        ),
    ],
)
def test_malformed_bundle_on_the_ledger(ledger3: Ledger3, cli: Cli, content: bytes) -> None:
    fake_id = hashlib.sha256(content).hexdigest()
    commit_on_ledger(ledger3.root, {entry_path(fake_id): content})
    verify_fails(cli, fake_id, "malformed bundle")
    assert blamed_entries(cli) == {fake_id}


def test_deeply_nested_statement_signed_by_trusted_key(ledger3: Ledger3) -> None:
    payload = b"[" * 100_000
    bundle = trusted_signer(ledger3.project).sign(payload)
    entry_id = hashlib.sha256(payload).hexdigest()
    commit_on_ledger(ledger3.root, {entry_path(entry_id): bundle})
    result = run_auditpipe(ledger3.root, "verify", "--ledger")
    assert "Traceback" not in result.err, result.err[-500:]
    assert result.code == 1
    assert entry_id in result.err
