"""This clone's verified no-op state, ``.git/auditpipe/noop-state.json``.

For one ledger head, per stage: the key and output digests the full path saw,
and the run whose signature it verified and which made the stage up to date.
The ledger at a head commit cannot change, so the full path's answer for the
same head, stage key and outputs is the same answer; a different head, lock,
trust set or anything unreadable means "no state" and the full path runs.

The file is authenticated with HMAC-SHA256 under a key kept beside the user's
signing keys (outside the repository, 0600): a state written by hand, copied
from another clone or shipped inside a repository does not verify and is
ignored. It protects nothing against someone who can write the user's config
dir (they can replace the signing key too).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "noop-state.json"
MAC_KEY_FILE = "noop-state.key"
LEDGER_REF = "refs/heads/auditpipe/ledger"
VERSION = 1
_HEX64 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Verdict:
    """One stage found up to date by the full path."""

    key: str
    run: str
    outputs: dict[str, str]


@dataclass(frozen=True)
class NoopState:
    head: str
    lock: str | None
    """sha256 of ``auditpipe.lock`` (None: no lock)."""
    trust: str
    """Digest of the trust files the runs were verified against."""
    stages: dict[str, Verdict]
    lock_current: bool = False
    """The lock's checkpoint covers ``head``: written by ``run`` (update_lock) at it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "head": self.head,
            "lock": self.lock,
            "trust": self.trust,
            "lockCurrent": self.lock_current,
            "stages": {
                name: {"key": v.key, "run": v.run, "outputs": dict(sorted(v.outputs.items()))}
                for name, v in sorted(self.stages.items())
            },
        }


def find_repository(start: Path) -> tuple[Path, Path] | None:
    """(work tree root, ``.git`` dir) of a plain clone; None for anything else
    (linked worktrees, ``.git`` files, bare repositories): the full path decides."""
    here = start.resolve()
    for folder in (here, *here.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return folder, dot_git
        if dot_git.exists():
            return None
    return None


def ledger_head(git_dir: Path) -> str | None:
    """The ledger ref's commit id, read from the loose ref or ``packed-refs``."""
    try:
        text = (git_dir / LEDGER_REF).read_text().strip()
    except FileNotFoundError:
        text = _packed(git_dir)
    except (OSError, UnicodeDecodeError):
        return None
    return text if text and len(text) == 40 and set(text) <= _HEX64 else None


def _packed(git_dir: Path) -> str:
    try:
        lines = (git_dir / "packed-refs").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    suffix = " " + LEDGER_REF
    return next((line[:40] for line in lines if line.endswith(suffix)), "")


def file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


# The working tree's trust files (``auditpipe.trust.root``: KEY_DIRS' *.pem and
# TRUST_FILES), named here so reading them costs no import; a unit test keeps
# the two lists equal.
TRUST_KEY_DIRS = ("policies/keys", "policies/people-keys")
TRUST_FILES = ("policies/identities.yaml", "policies/people.yaml", "policies/sigstore-trust.json")


def trust_digest(root: Path) -> str:
    """Digest of the working tree's trust files (names and bytes): a key
    revoked or an identity changed sends the next no-op to the full path."""
    digest = hashlib.sha256()
    files = [
        f"{folder}/{name}"
        for folder in TRUST_KEY_DIRS
        if (root / folder).is_dir()
        for name in sorted(os.listdir(root / folder))
        if name.endswith(".pem")
    ] + list(TRUST_FILES)
    for name in files:
        path = root / name
        if path.is_file():
            data = path.read_bytes()
            digest.update(b"%s\0%d\0%s" % (name.encode(), len(data), data))
    return digest.hexdigest()


def read_state(git_dir: Path) -> NoopState | None:
    """The state, if present, well formed and authenticated by this user's key."""
    key = _mac_key(create=False)
    if key is None:
        return None
    try:
        doc = json.loads((git_dir / "auditpipe" / STATE_FILE).read_bytes())
        body, mac = doc["body"], doc["mac"]
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, body)):
            return None
        if body["version"] != VERSION:
            return None
        stages = {
            str(name): Verdict(str(v["key"]), str(v["run"]), dict(v["outputs"]))
            for name, v in body["stages"].items()
        }
        current = body["lockCurrent"] is True
        return NoopState(str(body["head"]), body["lock"], str(body["trust"]), stages, current)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_state(git_dir: Path, state: NoopState) -> None:
    """Write the state atomically; failing to write it only costs speed."""
    key = _mac_key(create=True)
    if key is None:
        return
    body = state.to_json()
    data = json.dumps({"body": body, "mac": _mac(key, body)}, sort_keys=True).encode()
    target = git_dir / "auditpipe" / STATE_FILE
    tmp = target.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def clear_state(git_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (git_dir / "auditpipe" / STATE_FILE).unlink()


def _mac(key: bytes, body: Any) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def _config_dir() -> Path:
    override = os.environ.get("AUDITPIPE_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("auditpipe"))


def _mac_key(*, create: bool) -> bytes | None:
    path = _config_dir() / MAC_KEY_FILE
    try:
        key = path.read_bytes()
        return key if len(key) == 32 else None
    except FileNotFoundError:
        if not create:
            return None
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _mac_key(create=False)  # another process made it first
    except OSError:
        return None
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    return _mac_key(create=False)
