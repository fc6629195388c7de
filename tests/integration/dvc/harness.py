"""Two copies of one DVC project, one driven by ``dvc repro``, one by ``auditpipe run``.

DVC lives in a side venv built once under a cache directory
(``AUDITPIPE_TEST_CACHE``, default ``~/.cache/auditpipe-tests``) with pip from
PyPI, so CI builds it the same way. Each step applies the same edit to both
copies and returns the set of stages each tool executed.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("AUDITPIPE_TEST_CACHE", Path.home() / ".cache" / "auditpipe-tests"))
DVC_VERSION = os.environ.get("AUDITPIPE_TEST_DVC", "dvc==3.67.1")
RUNNING = re.compile(r"^Running stage '([^']+)'", re.M)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def dvc_binary() -> Path:
    """The ``dvc`` of the side venv, building the venv on first use (one builder at a time)."""
    home = CACHE / f"venv-{DVC_VERSION.replace('=', '')}"
    binary = home / "bin" / "dvc"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers wait for one build
        if binary.exists():
            return binary
        if home.exists():
            shutil.rmtree(home)
        venv.create(home, with_pip=True)
        subprocess.run(
            [str(home / "bin" / "python"), "-m", "pip", "install", "-q", DVC_VERSION],
            check=True,
            capture_output=True,
        )
    return binary


@dataclass
class Outcome:
    code: int
    executed: set[str]
    output: str


class Twin:
    """The same project under DVC (``self.dvc_root``) and auditpipe (``self.ap_root``)."""

    def __init__(self, base: Path, dvc: Path, files: dict[str, str]) -> None:
        self.dvc = dvc
        self.dvc_root = base / "under-dvc"
        self.ap_root = base / "under-auditpipe"
        self.env = {**os.environ, **GIT_ENV, "DVC_NO_ANALYTICS": "1"}
        self.env["DVC_SITE_CACHE_DIR"] = str(base / "dvc-site-cache")
        for root in (self.dvc_root, self.ap_root):
            root.mkdir(parents=True)
            self._sh(root, "git", "init", "-q", "-b", "main")
            self.write(root, files)
        self._sh(self.dvc_root, str(self.dvc), "init", "-q")
        self._sh(self.ap_root, sys.executable, "-m", "auditpipe", "init")
        for root in (self.dvc_root, self.ap_root):
            self._sh(root, "git", "add", "-A")
            self._sh(root, "git", "commit", "-q", "-m", "project")

    def _sh(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(args, cwd=cwd, env=self.env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"{args} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    @staticmethod
    def write(root: Path, files: dict[str, str]) -> None:
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def edit(self, change: Callable[[Path], object]) -> None:
        """Apply the same edit to both copies."""
        change(self.dvc_root)
        change(self.ap_root)

    def dvc_add(self, rel: str) -> None:
        """Track a data file with a .dvc file in both copies (DVC writes the .dvc file)."""
        for root in (self.dvc_root, self.ap_root):
            self._sh(root, "git", "rm", "-q", "--cached", rel)
        self._sh(self.dvc_root, str(self.dvc), "add", "-q", rel)
        shutil.copy(self.dvc_root / f"{rel}.dvc", self.ap_root / f"{rel}.dvc")
        for root in (self.dvc_root, self.ap_root):
            self._sh(root, "git", "add", "-A")
            self._sh(root, "git", "commit", "-q", "-m", f"track {rel} with DVC")

    def repro(self) -> tuple[Outcome, Outcome]:
        """``dvc repro`` and ``auditpipe run``: exit codes and the stages each executed."""
        proc = subprocess.run(
            [str(self.dvc), "repro", "--no-run-cache"],
            cwd=self.dvc_root,
            env=self.env,
            capture_output=True,
            text=True,
        )
        ours = Outcome(
            proc.returncode, set(RUNNING.findall(proc.stdout)), proc.stdout + proc.stderr
        )
        before = self._entries()
        proc = subprocess.run(
            [sys.executable, "-m", "auditpipe", "run"],
            cwd=self.ap_root,
            env=self.env,
            capture_output=True,
            text=True,
        )
        after = self._entries()
        ran = {after[i] for i in set(after) - set(before)}
        return ours, Outcome(proc.returncode, ran, proc.stdout + proc.stderr)

    def _entries(self) -> dict[str, str]:
        proc = self._sh(self.ap_root, sys.executable, "-m", "auditpipe", "log", "--json")
        return {e["id"]: e["stage"] for e in json.loads(proc.stdout) if e.get("stage")}
