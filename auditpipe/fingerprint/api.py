"""Fingerprinting paths end to end: resolve, list, consult the stat cache, hash, describe.

Owns ``fingerprint`` and ``fingerprint_many``: where a path is (relative to the
repository root, which bounds symlinks), what kind it is, which files need
hashing, and how the pieces (``tree``, ``hashing``, ``statcache``, ``table``)
combine into ``Fingerprint`` values. pyarrow is imported only when a table is
described.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint import formats
from auditpipe.fingerprint.engine import CONTENT_ALGORITHM, engine_tag
from auditpipe.fingerprint.fs import FileStat, FileSystem, LocalFileSystem, as_filesystem, os_error
from auditpipe.fingerprint.model import Fingerprint, TableInfo
from auditpipe.fingerprint.observer import NullObserver, ProgressObserver
from auditpipe.fingerprint.statcache import StatCache
from auditpipe.fingerprint.tree import (
    Entry,
    entry_line,
    link_digest,
    merkle_digest,
    read_link,
    special_file_error,
    walk,
    within,
)

StrPath = str | os.PathLike[str]
# Bump when a table description's content or its computation changes.
_TABLE_CACHE_VERSION = "1"


@dataclass
class _Target:
    display: str
    path: str
    stat: FileStat
    entries: list[Entry] = field(default_factory=list)
    link: str | None = None


def _child(display: str, rel: str) -> str:
    return rel if display in ("", ".") else f"{display.rstrip('/')}/{rel}"


def _resolve(
    fs: FileSystem, raw: StrPath, root: str | None, parents: dict[str, str] | None = None
) -> _Target:
    local = isinstance(fs, LocalFileSystem)
    pm = os.path if local else posixpath
    absolute = fs.abspath(os.fspath(raw))
    parent, name = pm.split(absolute)
    # Resolve the parents but not the path itself: a symlink is recorded as a link.
    # Many paths share a folder; ``parents`` remembers its resolution for one call.
    if name:
        known = parents.get(parent) if parents is not None else None
        if known is None:
            known = fs.realpath(parent)
            if parents is not None:
                parents[parent] = known
        full = pm.join(known, name)
    else:
        full = fs.realpath(absolute)
    if root is not None:
        if not within(full, root, pm.sep):
            raise FingerprintError(
                f"is outside the repository {root}",
                path=os.fspath(raw),
                hint="fingerprint paths inside the repository (or copy the data in)",
            )
        display = PurePath(pm.relpath(full, root)).as_posix() if local else pm.relpath(full, root)
    else:
        display = PurePath(os.fspath(raw)).as_posix() if local else os.fspath(raw)
    try:
        st = fs.lstat(full)
    except OSError as exc:
        raise os_error(exc, display) from exc
    target = _Target(display, full, st)
    if st.kind == "directory":
        bound = root if root is not None else fs.realpath(full)
        target.entries = walk(fs, full, display, bound)
    elif st.kind == "file":
        target.entries = [Entry(name, full, st)]
    elif st.kind == "symlink":
        bound = root if root is not None else fs.realpath(parent)
        target.link = read_link(fs, full, bound, display)
    else:
        raise special_file_error(st.kind, display)
    return target


def _cached(
    fs: FileSystem, targets: Sequence[_Target], cache: StatCache | None
) -> tuple[dict[str, tuple[str, int]], dict[str, tuple[FileStat, str]]]:
    """(sha256, size) of the files the stat cache knows unchanged, and the files
    left to hash (path -> stat and the name to show)."""
    use_cache = cache is not None and cache.enabled and fs.stable_identity
    known: dict[str, tuple[str, int]] = {}
    todo: dict[str, tuple[FileStat, str]] = {}
    for target in targets:
        cached = {}
        if use_cache and cache is not None:
            key = os.fsencode(target.path)
            if target.stat.kind == "directory":
                cached = cache.lookup_tree(key)
            elif (hit := cache.lookup(key)) is not None:
                cached = {key: hit}
        for entry in target.entries:
            if entry.target is not None or entry.path in known or entry.path in todo:
                continue
            hit = cached.get(os.fsencode(entry.path)) if cached else None
            if hit is not None and hit.matches(entry.stat):
                known[entry.path] = (hit.sha256, hit.size)
            else:
                shown = target.display if target.stat.kind == "file" else None
                todo[entry.path] = (entry.stat, shown or _child(target.display, entry.rel))
    return known, todo


def _digests(
    fs: FileSystem,
    targets: Sequence[_Target],
    cache: StatCache | None,
    workers: int | None,
    observer: ProgressObserver,
) -> dict[str, tuple[str, int]]:
    """(sha256, size) of every regular file in ``targets``, from the cache or hashed."""
    from auditpipe.fingerprint.hashing import HashJob, hash_files

    use_cache = cache is not None and cache.enabled and fs.stable_identity
    known, todo = _cached(fs, targets, cache)
    jobs = {path: HashJob(path, stat, shown) for path, (stat, shown) in todo.items()}
    if not jobs:
        return known
    pending = list(jobs.values())
    started_ns = time.time_ns()  # before any byte is read: the conservative racy-clean time
    observer.on_start(sum(j.stat.size for j in pending), "hashing")
    try:
        results = hash_files(fs, pending, observer, workers)
    finally:
        observer.on_finish()
    for job, result in zip(pending, results, strict=True):
        known[job.path] = (result.sha256, result.size)
    if use_cache and cache is not None:
        cache.store(
            (
                (os.fsencode(j.path), r.stat, r.sha256)
                for j, r in zip(pending, results, strict=True)
            ),
            started_ns,
        )
    return known


def _describe_table(
    fs: FileSystem,
    fmt: str,
    target: _Target,
    sha256: str,
    files: Sequence[Entry],
    content: bool,
    cache: StatCache | None,
) -> TableInfo:
    # The cache key names the engine without importing it: an unchanged table
    # costs no pyarrow import (~0.3 s).
    variant = ":".join(
        (fmt, "content" if content else "meta", _TABLE_CACHE_VERSION, CONTENT_ALGORITHM)
    )
    variant += ":" + engine_tag()
    if cache is not None and cache.enabled:
        hit = cache.get_table(sha256, variant)
        if hit is not None:
            try:
                return TableInfo.from_dict(hit)
            except (KeyError, TypeError, ValueError):
                pass
    from auditpipe.fingerprint import table

    info = table.describe(fs, fmt, target.path, target.display, files=files, content=content)
    if cache is not None and cache.enabled:
        cache.put_table(sha256, variant, info.to_dict())
    return info


def _assemble(
    fs: FileSystem,
    target: _Target,
    digests: dict[str, tuple[str, int]],
) -> tuple[Fingerprint, str | None, list[Entry]]:
    """The byte fingerprint of a target, plus its table format (if any) and files."""
    if target.link is not None:
        sha, size = link_digest(target.link)
        return Fingerprint(target.display, "symlink", sha, size, target=target.link), None, []
    if target.stat.kind == "file":
        sha, size = digests[target.path]
        fmt = formats.file_format(target.entries[0].rel)
        return Fingerprint(target.display, "file", sha, size), fmt, []
    lines = []
    for entry in target.entries:
        if entry.target is not None:
            sha, size = link_digest(entry.target)
            lines.append((entry.rel, entry_line(entry.rel, sha, size, link=True), size))
        else:
            sha, size = digests[entry.path]
            lines.append((entry.rel, entry_line(entry.rel, sha, size, link=False), size))
    digest, total, count = merkle_digest(lines)
    data = formats.dataset_files(target.entries)
    fmt = formats.PARQUET_DATASET if data is not None else None
    fp = Fingerprint(target.display, "directory", digest, total, files=count)
    return fp, fmt, data or []


def fingerprint_many(
    paths: Sequence[StrPath],
    *,
    root: StrPath | None = None,
    fs: object | None = None,
    cache: StatCache | None = None,
    content: bool = False,
    workers: int | None = None,
    observer: ProgressObserver | None = None,
) -> list[Fingerprint]:
    """Fingerprint several paths, hashing all their files in one parallel pass.

    ``root`` (the repository) bounds symlinks and makes result paths relative
    to it; without it, paths are reported as given and each directory bounds
    its own links. ``fs`` is a ``pyarrow.fs.FileSystem`` or an
    ``auditpipe.fingerprint.fs.FileSystem`` (local disk when ``None``).
    ``cache`` skips re-hashing unchanged files; ``content`` adds the
    encoding-independent content digest to tables. Raises ``FingerprintError``.
    """
    fsys = as_filesystem(fs)
    obs: ProgressObserver = observer if observer is not None else NullObserver()
    root_path = fsys.realpath(fsys.abspath(os.fspath(root))) if root is not None else None
    parents: dict[str, str] = {}
    targets = [_resolve(fsys, p, root_path, parents) for p in paths]
    digests = _digests(fsys, targets, cache, workers, obs)
    assembled = [_assemble(fsys, t, digests) for t in targets]
    tables = [(i, fmt) for i, (_, fmt, _) in enumerate(assembled) if fmt is not None]
    results = [fp for fp, _, _ in assembled]
    if tables:
        obs.on_start(sum(results[i].size for i, _ in tables), "reading tables")
        try:
            for i, fmt in tables:
                fp, _, files = assembled[i]
                info = _describe_table(fsys, fmt, targets[i], fp.sha256, files, content, cache)
                results[i] = Fingerprint(
                    fp.path, fp.kind, fp.sha256, fp.size, files=fp.files, table=info
                )
                obs.on_advance(fp.size)
        finally:
            obs.on_finish()
    return results


def fingerprint(
    path: StrPath,
    *,
    root: StrPath | None = None,
    fs: object | None = None,
    cache: StatCache | None = None,
    content: bool = False,
    workers: int | None = None,
    observer: ProgressObserver | None = None,
) -> Fingerprint:
    """Fingerprint one file, directory or symlink (see ``fingerprint_many``)."""
    return fingerprint_many(
        [path],
        root=root,
        fs=fs,
        cache=cache,
        content=content,
        workers=workers,
        observer=observer,
    )[0]


def cached_digests(
    paths: Sequence[str], *, root: StrPath, cache: StatCache
) -> dict[str, str] | None:
    """The sha256 of each repo-relative path (file, directory or symlink) when the
    stat cache knows every file in it unchanged; None when anything would need
    reading, is missing, or cannot be resolved. Reads no file's bytes."""
    if not cache.enabled:
        return None
    fsys = as_filesystem(None)
    root_path = fsys.realpath(fsys.abspath(os.fspath(root)))
    parents: dict[str, str] = {}
    try:
        targets = [_resolve(fsys, os.path.join(root_path, p), root_path, parents) for p in paths]
    except (FingerprintError, OSError):
        return None
    known, todo = _cached(fsys, targets, cache)
    if todo:
        return None
    return {p: _assemble(fsys, t, known)[0].sha256 for p, t in zip(paths, targets, strict=True)}
