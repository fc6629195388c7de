"""Share the ledger through any git remote: ``pull``, ``push``, ``fetch_existing_ledger``.

The remote's ``refs/heads/auditpipe/ledger`` is fetched with dulwich (paths,
``file://``, ``ssh://``, ``git://``, smart HTTP) into the object store only; the
remote head this clone last accepted is ``refs/auditpipe/remotes/<remote>/ledger``.
No user branch, index or working tree is touched.

Merging happens under the ledger writer lock. The remote must still hold,
byte for byte, every entry this clone has seen there (``replay.plan_union``),
else ``VerificationFailed`` and the refused head is kept as
``refs/auditpipe/rejected/<remote>/ledger``. Local-only entries are replayed onto
the remote head, and the result is verified in full *before* the local ref
moves (compare-and-swap).

Push never forces: the remote ref moves only from the head the new one was
built on; when another clone got there first, the push starts over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from dulwich.client import GitClient, HTTPUnauthorized, default_urllib3_manager
from dulwich.client import get_transport_and_path as _transport_for
from dulwich.config import Config
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import ZERO_SHA, ObjectID
from dulwich.refs import Ref, check_ref_format

from auditpipe.errors import LedgerError, VerificationFailed
from auditpipe.ledger import replay
from auditpipe.ledger.gitstore import GitStore
from auditpipe.ledger.layout import LEDGER_REF
from auditpipe.ledger.state import read_verified_head, writer_lock
from auditpipe.ledger.verify import Progress, Untrusted
from auditpipe.signing.factory import verifier_for
from auditpipe.signing.interface import Verifier
from auditpipe.trust.read import open_trust
from auditpipe.workspace import Workspace

MAX_PUSH_ATTEMPTS = 10
TOKEN_ENV = "AUDITPIPE_GIT_TOKEN"
USERNAME_ENV = "AUDITPIPE_GIT_USERNAME"
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^@/:]+:")
_CHECK_PATH = "check the URL (`git remote -v`) and that the server lets you read and push it"
_UNREACHABLE = (
    "check the URL and the network; for ssh://, that your SSH agent holds a key the server "
    f"accepts; for https://, set {TOKEN_ENV} or configure a git credential helper"
)


@dataclass(frozen=True)
class Remote:
    """Where to sync: ``label`` as the user gave it, the ``url`` it resolves to."""

    label: str
    url: str
    component: bytes  # its name inside refs/auditpipe/{remotes,rejected}/

    @property
    def tracking_ref(self) -> bytes:
        return b"refs/auditpipe/remotes/" + self.component + b"/ledger"

    @property
    def rejected_ref(self) -> bytes:
        return b"refs/auditpipe/rejected/" + self.component + b"/ledger"


@dataclass(frozen=True)
class SyncResult:
    """What a pull or push did: local head before/after, the remote head after."""

    remote: str
    url: str
    before: str | None
    head: str | None
    remote_head: str | None
    received: int = 0  # entries that came from the remote
    replayed: int = 0  # local-only entries replayed onto the remote head
    sent: int = 0  # entries the remote gained from this push
    attempts: int = 1
    entries: int | None = None  # entries at the new head, when it was verified
    untrusted: tuple[Untrusted, ...] = ()  # entries by unknown signers at the new head

    @property
    def changed(self) -> bool:
        return self.before != self.head


def resolve_remote(workspace: Workspace, remote: str = "origin") -> Remote:
    """A configured remote (``remote.<name>.url``), or a URL or path given directly."""
    with workspace.open() as repo:
        try:
            url = bytes(repo.get_config_stack().get((b"remote", remote.encode()), b"url"))
        except KeyError:
            url = b""
        names = sorted(s[1].decode() for s in repo.get_config().sections() if s[0] == b"remote")
    hashed = b"url-" + hashlib.sha256(remote.encode()).hexdigest()[:16].encode()
    if url:
        plain = "/" not in remote and check_ref_format(Ref(b"refs/x/" + remote.encode()))
        return Remote(remote, url.decode(), remote.encode() if plain else hashed)
    if "://" in remote or remote.startswith(("/", ".", "~")) or os.path.exists(remote):
        return Remote(remote, os.path.expanduser(remote), hashed)
    if _SCP_LIKE.match(remote):
        return Remote(remote, remote, hashed)
    known = f"configured remotes: {', '.join(names)}" if names else "this repository has no remotes"
    raise LedgerError(
        f"no git remote named {remote!r}",
        hint=f"{known}; add one with `git remote add {remote} URL`, or give a URL",
    )


def pull(
    workspace: Workspace,
    remote: str = "origin",
    *,
    verifier: Verifier | None = None,
    progress: Progress | None = None,
) -> SyncResult:
    """Fetch the remote ledger and make the local one the verified union of both.

    Raises ``VerificationFailed`` when the remote lost or changed an entry this
    clone has seen there, or the union does not verify; ``LedgerError`` when the
    remote cannot be reached. The local ledger is unchanged in both cases.
    """
    with _session(workspace, remote, "pull") as (target, store, client, path):
        remote_head = _fetch(target, client, path, store)
        with writer_lock(workspace.state_dir):
            return _integrate(store, target, remote_head, verifier, progress)


def push(
    workspace: Workspace,
    remote: str = "origin",
    *,
    verifier: Verifier | None = None,
    progress: Progress | None = None,
    max_attempts: int = MAX_PUSH_ATTEMPTS,
) -> SyncResult:
    """Merge the remote ledger in (as ``pull`` does), then fast-forward the remote to it.

    Never forces. A push refused because another clone appended in between is
    retried, replaying onto the new remote head, at most ``max_attempts`` times
    with jittered backoff.
    """
    rng = random.Random()
    with _session(workspace, remote, "push") as (target, store, client, path):
        before = store.head()
        if before is None:
            raise LedgerError("there is no local ledger to push", hint="run `auditpipe init`")
        refused: tuple[bytes | None, str] | None = None
        received = replayed = 0
        for attempt in range(1, max_attempts + 1):
            remote_head = _fetch(target, client, path, store)
            if refused is not None and refused[0] == remote_head:
                raise LedgerError(
                    f"{target.label} refused the ledger push: {refused[1]}",
                    hint="check that you may push to refs/heads/auditpipe/ledger there",
                )
            with writer_lock(workspace.state_dir):
                merged = _integrate(store, target, remote_head, verifier, progress)
            received, replayed = received + merged.received, replayed + merged.replayed
            head = (merged.head or before.decode()).encode()
            sent = 0
            if head != remote_head:
                sent = replay.count_new(store, remote_head, head)
                status = _send(target, client, path, store, remote_head, head)
                if status is not None:
                    refused = (remote_head, status)
                    time.sleep(min(2.0, 0.05 * 2**attempt) * rng.uniform(0.5, 1.5))
                    continue
                with writer_lock(workspace.state_dir):
                    replay.set_ref(store.repo, target.tracking_ref, head)
            return dataclasses.replace(
                merged, before=_hex(before), head=_hex(head), remote_head=_hex(head),
                received=received, replayed=replayed, sent=sent, attempts=attempt,
            )  # fmt: skip
    raise LedgerError(
        f"could not push the ledger to {target.label} in {max_attempts} attempts: "
        "other clones kept appending",
        hint="run `auditpipe ledger push` again",
    )


def fetch_existing_ledger(workspace: Workspace, remote: str = "origin") -> bool:
    """In a fresh clone, take the remote's ledger (fetched, verified) instead of a new one.

    False when the local ledger branch exists, no such remote is configured, or
    the remote has no ledger yet. Raises as ``pull`` does otherwise.
    """
    with contextlib.closing(GitStore(workspace)) as store:
        if store.head() is not None:
            return False
    try:
        resolve_remote(workspace, remote)
    except LedgerError:
        return False
    return pull(workspace, remote).head is not None


@contextlib.contextmanager
def _session(
    workspace: Workspace, remote: str, operation: str
) -> Iterator[tuple[Remote, GitStore, GitClient, str]]:
    target = resolve_remote(workspace, remote)
    store = GitStore(workspace)
    try:
        config = store.repo.get_config_stack()
        options = _transport_options(target.url, config)
        try:
            client, path = _transport_for(target.url, config, operation, **options)
        except ValueError as exc:
            raise LedgerError(f"{target.label} is not a git URL: {exc}") from exc
        try:
            yield target, store, client, path
        finally:
            client.close()
    finally:
        store.close()


def _integrate(
    store: GitStore,
    target: Remote,
    remote_head: bytes | None,
    verifier: Verifier | None,
    progress: Progress | None,
) -> SyncResult:
    """Make the local ledger the verified union of itself and ``remote_head``.

    Callers hold the writer lock; the local ref moves by compare-and-swap.
    """
    local = store.head()
    verified = read_verified_head(store.workspace.state_dir)
    accepted = replay.get_ref(store.repo, target.tracking_ref)
    unchanged = SyncResult(target.label, target.url, _hex(local), _hex(local), _hex(remote_head))
    if remote_head is None:
        if accepted is not None:  # the remote's ledger branch was deleted
            gone = replay.entry_blobs(store, replay.tree_of(store, accepted))
            _refuse(store, target, None, [f"entry {i}: missing from the remote" for i in gone])
        return unchanged
    if local is not None and verified is not None and not replay.descends(store, local, verified):
        raise VerificationFailed(
            "the local ledger does not descend from the head this clone last verified",
            hint="run `auditpipe verify --ledger` and resolve that before syncing",
        )
    plan = replay.plan_union(store, local, remote_head, accepted)
    if plan.rewritten:
        _refuse(store, target, remote_head, plan.rewritten)
    check = verifier or verifier_for(open_trust(store.workspace, None))
    head, report = replay.adopt(store, plan, local, remote_head, check, progress)
    replay.set_ref(store.repo, target.tracking_ref, remote_head)
    if head == local or report is None:
        return unchanged
    return dataclasses.replace(
        unchanged, head=_hex(head), received=plan.received, replayed=len(plan.local_only),
        entries=report.entries, untrusted=tuple(report.untrusted),
    )  # fmt: skip


def _refuse(
    store: GitStore, target: Remote, remote_head: bytes | None, problems: list[str]
) -> None:
    kept = f"; its head is kept as {target.rejected_ref.decode()}" if remote_head else ""
    if remote_head is not None:
        replay.set_ref(store.repo, target.rejected_ref, remote_head)
    more = [f"... and {len(problems) - 50} more"] if len(problems) > 50 else []
    raise VerificationFailed(
        f"the ledger on {target.label} was rewritten: {len(problems)} entry(ies) this clone "
        "has seen there are missing or changed",
        problems=problems[:50] + more,
        hint=f"the local ledger is unchanged{kept}; restore the remote's ledger "
        "(e.g. push it back from a clone that holds every entry)",
    )


# -- transport ------------------------------------------------------------------


def _transport_options(url: str, config: Config) -> dict[str, Any]:
    """Credentials from the usual places: the URL, ``$AUDITPIPE_GIT_TOKEN``, git's helpers.

    SSH runs the ``ssh`` program (agent, ``~/.ssh/config``; ``GIT_SSH_COMMAND``
    and ``core.sshCommand`` are honoured).
    """
    options: dict[str, Any] = {"quiet": True, "thin_packs": False}
    ssh = os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH")
    if ssh:
        options["ssh_command"] = ssh
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or parsed.password:
        return options
    token = os.environ.get(TOKEN_ENV)
    if token:
        options["username"] = os.environ.get(USERNAME_ENV) or "x-access-token"
        options["password"] = token
    else:
        options["pool_manager"] = default_urllib3_manager(
            config, base_url=url, auth_callback=_credential_helper
        )
    return options


def _credential_helper(url: str, _challenge: str, attempt: int) -> dict[str, str] | None:
    """Ask git's credential helpers (``git credential fill``) once, never prompting."""
    git = shutil.which("git")
    if attempt > 1 or git is None:
        return None
    parsed = urlparse(url)
    query = f"protocol={parsed.scheme}\nhost={parsed.netloc}\npath={parsed.path.lstrip('/')}\n\n"
    quiet = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
    try:
        proc = subprocess.run(
            [git, "credential", "fill"], input=query, capture_output=True, text=True,
            timeout=60, env=quiet,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    if proc.returncode != 0 or "username" not in answer:
        return None
    return {"username": answer["username"], "password": answer.get("password", "")}


def _fetch(target: Remote, client: GitClient, path: str, store: GitStore) -> bytes | None:
    """Fetch the remote ledger's objects; returns its head (None when it has no ledger)."""

    def wants(refs: Any, depth: int | None = None) -> list[ObjectID]:
        head = refs.get(LEDGER_REF)
        return [] if not head or head == ZERO_SHA or head in store.repo.object_store else [head]

    with _transport_errors(target):
        result = client.fetch(path, store.repo, determine_wants=wants, ref_prefix=[LEDGER_REF])
    head = result.refs.get(Ref(LEDGER_REF))
    return bytes(head) if head and head != ZERO_SHA else None


class _RemoteMoved(Exception):
    pass


def _send(
    target: Remote, client: GitClient, path: str, store: GitStore, old: bytes | None, new: bytes
) -> str | None:
    """Move the remote ref from ``old`` to ``new``: None when accepted, else why not."""

    def update_refs(refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
        current = refs.get(Ref(LEDGER_REF))
        if (bytes(current) if current and current != ZERO_SHA else None) != old:
            raise _RemoteMoved
        return {Ref(LEDGER_REF): ObjectID(new)}

    def pack_data(have: Any, want: Any, *, ofs_delta: bool = False, progress: Any = None) -> Any:
        known = {sha for sha in have if sha in store.repo.object_store}
        return store.repo.generate_pack_data(
            known, set(want), progress=progress, ofs_delta=ofs_delta
        )

    try:
        with _transport_errors(target):
            result = client.send_pack(path.encode(), update_refs, generate_pack_data=pack_data)
    except _RemoteMoved:
        return "another clone pushed first"
    status = (result.ref_status or {}).get(Ref(LEDGER_REF))
    return str(status) if status else None


@contextlib.contextmanager
def _transport_errors(target: Remote) -> Iterator[None]:
    """dulwich and socket errors become ``LedgerError`` naming the remote."""
    where = target.url if target.label == target.url else f"{target.label} ({target.url})"
    try:
        yield
    except HTTPUnauthorized as exc:
        raise LedgerError(f"{where}: authentication failed", hint=_UNREACHABLE) from exc
    except NotGitRepository as exc:
        raise LedgerError(f"{where} is not a git repository", hint=_CHECK_PATH) from exc
    except HangupException as exc:
        raise LedgerError(f"{where} hung up: {exc}", hint=_CHECK_PATH) from exc
    except GitProtocolError as exc:
        raise LedgerError(f"{where}: {exc}", hint=_UNREACHABLE) from exc
    except OSError as exc:
        message = f"cannot reach {where}: {exc.strerror or exc}"
        raise LedgerError(message, hint=_UNREACHABLE) from exc


def _hex(sha: bytes | None) -> str | None:
    return sha.decode() if sha else None
