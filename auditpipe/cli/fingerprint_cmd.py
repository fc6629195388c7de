"""``auditpipe fingerprint PATH...``: print the fingerprints of files, directories and tables.

Owns the command's parsing, its output (one line per path, or ``--json``), the
repository discovery it needs (the nearest ancestor of the current directory
with a ``.git``: its root bounds symlinks and its ``.git/auditpipe/`` holds the
stat cache) and the progress bar, shown on stderr once work has taken about a
second. Kept light to import: no pyarrow unless a table is fingerprinted.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import Parameter

from auditpipe.cli.app import app, err, out, print_json
from auditpipe.errors import Error

if TYPE_CHECKING:
    from rich.console import Console

    from auditpipe.fingerprint import Fingerprint

SHOW_PROGRESS_AFTER = 1.0  # seconds


def find_repository(start: Path) -> tuple[Path, Path] | None:
    """(work tree root, git dir) of the repository containing ``start``, if any."""
    for directory in (start, *start.parents):
        dotgit = directory / ".git"
        if dotgit.is_dir():
            return directory, dotgit
        if dotgit.is_file():  # a linked worktree or submodule: "gitdir: <path>"
            text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                return directory, (directory / text[len("gitdir:") :].strip()).resolve()
    return None


class ProgressBar:
    """A rich progress bar on ``console`` that appears only for work longer than ~1 s.

    A ``ProgressObserver``: the core reports, this renders; nothing else knows rich.
    """

    def __init__(self, console: Console, delay: float = SHOW_PROGRESS_AFTER) -> None:
        self._console = console
        self._delay = delay
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._progress: Any = None
        self._task: Any = None
        self._total = 0
        self._done = 0
        self._phase = ""

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def on_start(self, total_bytes: int, phase: str) -> None:
        with self._lock:
            self._total, self._done, self._phase = total_bytes, 0, phase
            self._timer = threading.Timer(self._delay, self._show)
            self._timer.daemon = True
            self._timer.start()

    def _show(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with self._lock:
            if self._timer is None:  # finished meanwhile
                return
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self._console,
                transient=True,
            )
            self._task = self._progress.add_task(
                self._phase, total=self._total, completed=self._done
            )
            self._progress.start()

    def on_advance(self, nbytes: int) -> None:
        with self._lock:
            self._done += nbytes
            if self._progress is not None:
                self._progress.update(self._task, completed=self._done)

    def on_file_hashed(self, path: str, size: int) -> None:
        pass

    def on_finish(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._progress is not None:
                self._progress.stop()
                self._progress = None


def _line(fp: Fingerprint) -> str:
    text = f"{fp.sha256}  {fp.size}  {fp.path}"
    if fp.kind == "directory":
        text += f"/  files={fp.files}"
    elif fp.kind == "symlink":
        text += f" -> {fp.target}"
    if fp.table is not None:
        t = fp.table
        text += f"  {t.format} rows={t.rows} columns={t.columns} schema={t.schema_digest[:16]}"
        if t.content_digest is not None:
            text += f" content={t.content_digest}"
    return text


@app.command(name="fingerprint")
def fingerprint_command(
    *paths: Path,
    json: Annotated[bool, Parameter(negative="")] = False,
    content: Annotated[bool, Parameter(negative="")] = False,
    no_cache: Annotated[bool, Parameter(negative="")] = False,
) -> int:
    """Print the fingerprint of files, directories and tables.

    A file's fingerprint is its sha256 and size; a directory's a Merkle digest
    over its files; tables (Parquet, Arrow/Feather, CSV) add rows, columns,
    schema and column statistics.

    Parameters
    ----------
    paths
        Files or directories to fingerprint.
    json
        Print a JSON list of resource descriptors.
    content
        Add each table's content digest, which ignores how the data is encoded.
    no_cache
        Hash every file, ignoring the stat cache in .git/auditpipe/.
    """
    # Imported here: every other verb pays nothing for the fingerprint core.
    from auditpipe.fingerprint import StatCache, fingerprint_many

    if not paths:
        raise Error(
            "no path given",
            hint="usage: auditpipe fingerprint PATH... [--json] [--content] [--no-cache]",
        )
    found = find_repository(Path.cwd())
    root = found[0] if found is not None else None
    cache = None
    if found is not None and not no_cache:
        cache = StatCache(StatCache.default_path(found[1]))
    observer = ProgressBar(err)
    try:
        results = fingerprint_many(
            list(paths), root=root, cache=cache, content=content, observer=observer
        )
    finally:
        observer.on_finish()
        if cache is not None:
            cache.close()
    if json:
        print_json([fp.to_dict() for fp in results])
    else:
        for fp in results:
            out.print(_line(fp), markup=False, highlight=False)
    return 0
