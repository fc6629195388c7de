r"""Directories: listing them safely, and their Merkle digest.

Owns the walk (which entries count, which are errors) and the digest.

The walk records regular files and symbolic links, recursively; it skips
entries named ``.git`` and does not record empty directories (like git). A
symbolic link is recorded as a link, never followed; a link whose resolved
target lies outside the bound (the repository root) is an error, as are FIFOs,
sockets and device files, and names containing a newline.

The directory digest is the SHA-256 of one line per entry::

    <sha256 of the file>  <size in bytes>  <relative path>\n        (regular file)
    link:<sha256 of the target text>  <target length>  <relative path>\n   (symlink)

where the relative path is relative to the fingerprinted directory, with ``/``
separators, and the lines are sorted by the relative path's bytes. The
directory's ``size`` is the sum of the size column, ``files`` the number of
lines. An auditor can recompute it with coreutils::

    cd DIR && find . \( -name .git -prune \) -o \( -type f -o -type l \) -printf '%P\0' |
      LC_ALL=C sort -z | while IFS= read -r -d '' f; do
        if [ -L "$f" ]; then
          printf 'link:%s  %s  %s\n' "$(readlink -n "$f" | sha256sum | cut -d' ' -f1)" \
            "$(readlink -n "$f" | wc -c)" "$f"
        else
          printf '%s  %s  %s\n' "$(sha256sum < "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
        fi
      done | sha256sum
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint.fs import FileStat, FileSystem, LocalFileSystem, os_error

SKIPPED_NAMES = frozenset({".git"})

_SPECIAL = {
    "fifo": "a FIFO (named pipe)",
    "socket": "a socket",
    "device": "a device file",
    "other": "not a regular file, directory or symbolic link",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded entry of a directory."""

    rel: str  # relative to the fingerprinted directory, "/"-separated
    path: str  # the filesystem's path for it
    stat: FileStat
    target: str | None = None  # symlinks only


def within(path: str, bound: str, sep: str = os.sep) -> bool:
    """True when ``path`` is ``bound`` or inside it (both already resolved)."""
    return path == bound or path.startswith(bound.rstrip(sep) + sep)


def special_file_error(kind: str, display: str) -> FingerprintError:
    return FingerprintError(
        f"is {_SPECIAL.get(kind, kind)}, which cannot be fingerprinted",
        path=display,
        hint="remove it, or move it out of the data being fingerprinted",
    )


def read_link(fs: FileSystem, path: str, bound: str, display: str) -> str:
    """A link's target text, after checking it resolves inside ``bound``."""
    try:
        target = fs.readlink(path)
        resolved = fs.realpath(path)
    except OSError as exc:
        raise os_error(exc, display) from exc
    if not within(resolved, bound):
        raise FingerprintError(
            f"symbolic link points outside the repository (to {target!r})",
            path=display,
            hint="auditpipe never follows links out of the repository; "
            "copy the data in, or fingerprint it where it lives",
        )
    return target


def walk(fs: FileSystem, top: str, display: str, bound: str) -> list[Entry]:
    """Every recorded entry under directory ``top`` (``display`` names it in errors)."""
    join = os.path.join if isinstance(fs, LocalFileSystem) else posixpath.join
    entries: list[Entry] = []
    stack: list[tuple[str, str]] = [(top, "")]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            listing = fs.scandir(directory)
        except OSError as exc:
            raise os_error(exc, posixpath.join(display, rel_dir) if rel_dir else display) from exc
        for name, st in listing:
            if name in SKIPPED_NAMES:
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            path = join(directory, name)
            shown = f"{display.rstrip('/')}/{rel}"
            if "\n" in name:
                raise FingerprintError(
                    "the name contains a newline, which the directory digest cannot record",
                    path=shown,
                    hint="rename it",
                )
            if st.kind == "directory":
                stack.append((path, rel))
            elif st.kind == "file":
                entries.append(Entry(rel, path, st))
            elif st.kind == "symlink":
                entries.append(Entry(rel, path, st, read_link(fs, path, bound, shown)))
            else:
                raise special_file_error(st.kind, shown)
    entries.sort(key=lambda e: os.fsencode(e.rel))
    return entries


def link_digest(target: str) -> tuple[str, int]:
    """(sha256, length) of a link's target text, as its digest line records it."""
    raw = os.fsencode(target)
    return hashlib.sha256(raw).hexdigest(), len(raw)


def entry_line(rel: str, sha256: str, size: int, *, link: bool) -> bytes:
    prefix = b"link:" if link else b""
    return b"%s%s  %d  %s\n" % (prefix, sha256.encode("ascii"), size, os.fsencode(rel))


def merkle_digest(lines: Iterable[tuple[str, bytes, int]]) -> tuple[str, int, int]:
    """(digest, total size, count) over (rel, line, size) triples, sorted here by rel bytes."""
    digest = hashlib.sha256()
    total = count = 0
    for _rel, line, size in sorted(lines, key=lambda t: os.fsencode(t[0])):
        digest.update(line)
        total += size
        count += 1
    return digest.hexdigest(), total, count
