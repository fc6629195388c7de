"""Real faults for tests: file permissions that bind root too, a small tmpfs that
fills up or turns read-only, a low open-file limit, and -- where the machine
cannot give the real thing -- faults injected at the OS-call layer of a
subprocess (never a mock of auditpipe). A fault test never skips: when a
capability is missing it falls back to injection and still runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import Result

# Root without the capabilities that bypass file permissions: the kernel then
# checks mode bits as for any user. (setpriv --reuid cannot be used here: the
# interpreter lives under /root, which another user cannot enter.)
DROP_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]

# Runs the CLI with a fault injected into the OS calls named by
# AUDITPIPE_TEST_FAULT: "ERRNO:read|write:SUBSTRING" makes opening a matching
# path for that access fail with ERRNO; "VANISH:SUBSTRING" deletes a matching
# file just before it is first opened (the real open then fails with ENOENT);
# "NOFILE:N" leaves only N spare file descriptors once auditpipe is imported.
INJECT = r"""
import builtins, errno, io, os, sys
spec = os.environ.pop("AUDITPIPE_TEST_FAULT", "")
import auditpipe.cli
kind, _, rest = spec.partition(":")
real_io_open, real_os_open = io.open, os.open
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def raise_for(path, writing):
    access, _, needle = rest.partition(":")
    if needle in os.fsdecode(path) and (access == "write") == writing:
        code = getattr(errno, kind)
        raise OSError(code, os.strerror(code), os.fsdecode(path))

def vanish(path):
    if rest in os.fsdecode(path) and os.path.isfile(path) and rest not in vanished:
        vanished.add(rest)
        os.unlink(path)

vanished = set()
if kind == "VANISH":
    def os_open(path, flags, *a, **k):
        vanish(path)
        return real_os_open(path, flags, *a, **k)
    def any_open(file, mode="r", *a, **k):
        if isinstance(file, (str, bytes, os.PathLike)):
            vanish(file)
        return real_io_open(file, mode, *a, **k)
elif kind == "NOFILE":
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + int(rest),) * 2)
elif kind:
    def os_open(path, flags, *a, **k):
        raise_for(path, bool(flags & WRITE_FLAGS))
        return real_os_open(path, flags, *a, **k)
    def any_open(file, mode="r", *a, **k):
        if isinstance(file, (str, bytes, os.PathLike)):
            raise_for(file, any(c in mode for c in "wax+"))
        return real_io_open(file, mode, *a, **k)
if kind and kind != "NOFILE":
    os.open, io.open, builtins.open = os_open, any_open, any_open
sys.exit(auditpipe.cli.main(sys.argv[1:]))
"""


def run(
    cwd: Path,
    *args: str,
    fault: str = "",
    prefix: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """``auditpipe ARGS`` in a subprocess, optionally with an injected fault or a
    command prefix (``DROP_DAC``)."""
    proc = subprocess.run(
        [*(prefix or []), sys.executable, "-c", INJECT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {}), "AUDITPIPE_TEST_FAULT": fault},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def permissions_bind() -> list[str] | None:
    """A prefix under which mode bits are enforced ([] when not root), or None."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp, "probe")
        probe.write_text("x")
        probe.chmod(0)
        done = subprocess.run([*DROP_DAC, "cat", str(probe)], capture_output=True)
    return DROP_DAC if done.returncode != 0 else None


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "16m") -> Iterator[bool]:
    """Mount a small tmpfs at ``where``; yields False (a plain directory) when
    mounting is not allowed, so the caller injects the fault instead."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = (
        shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["mount", "-o", "remount,rw", str(where)], capture_output=True)
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(disk: Path) -> None:
    """Write zeros until the file system is full."""
    with open(disk / "filler", "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while handle.write(b"\0" * 65536):
            pass


def remount_read_only(disk: Path) -> bool:
    return (
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode
        == 0
    )
