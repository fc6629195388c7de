"""``auditpipe plots show`` and ``plots diff``: draw the declared plots as HTML and SVG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from cyclopts import App, Parameter

from auditpipe.cli.app import app, out

plots_app = App(name="plots", help="Draw the plots a pipeline declares (HTML, SVG, PNG).")
app.command(plots_app)

Out = Annotated[Path, Parameter(name=["--out", "-o"])]


@plots_app.command
def show(
    targets: list[str] | None = None, /, *, out_dir: Out = Path("plots"), png: bool = False
) -> int:
    """Draw the declared plots from the workspace's files.

    Parameters
    ----------
    targets
        Plot ids or plot files (default: every plot).
    out_dir
        Directory to write ``<plot>.html``, ``<plot>.svg`` and ``index.html`` to.
    png
        Also write PNG images.
    """
    from auditpipe.workspace import Workspace

    workspace = Workspace.discover()

    def read(path: str) -> bytes | None:
        try:
            return (workspace.root / path).read_bytes()
        except OSError:
            return None

    return _draw(workspace, targets or [], [("workspace", read)], out_dir, png)


@plots_app.command
def diff(
    revisions: list[str] | None = None, /, *, out_dir: Out = Path("plots"), png: bool = False
) -> int:
    """Draw the declared plots at several git revisions (and the workspace) in one chart each.

    Parameters
    ----------
    revisions
        Git revisions to compare (default: HEAD against the workspace).
    out_dir
        Directory to write the plots to.
    png
        Also write PNG images.
    """
    from auditpipe.workspace import Workspace, resolve_revision

    workspace = Workspace.discover()
    revs = revisions or ["HEAD"]
    sources: list[tuple[str, Callable[[str], bytes | None]]] = []
    repo = workspace.open()
    try:
        commits = [(rev, resolve_revision(repo, rev)) for rev in revs]
    finally:
        repo.close()
    for rev, commit in commits:
        sources.append((rev, _reader_at(workspace, commit)))
    if len(revs) == 1:

        def current(path: str) -> bytes | None:
            try:
                return (workspace.root / path).read_bytes()
            except OSError:
                return None

        sources.append(("workspace", current))
    return _draw(workspace, [], sources, out_dir, png)


def _reader_at(workspace: Any, commit: str) -> Callable[[str], bytes | None]:
    from auditpipe.pipeline.revision import file_at

    return lambda path: file_at(workspace, commit, path)


def _draw(
    workspace: Any,
    targets: list[str],
    sources: list[tuple[str, Callable[[str], bytes | None]]],
    out_dir: Path,
    png: bool,
) -> int:
    from auditpipe.pipeline.spec import load_pipeline
    from auditpipe.plots.collect import build, definitions, select
    from auditpipe.plots.render import write

    spec = load_pipeline(workspace.root)
    plots = select(definitions(spec), targets)
    if not plots:
        out.print("no plots declared (add `plots:` to dvc.yaml or a stage)")
        return 0
    specs = []
    for plot in plots:
        chart, missing = build(plot, sources)
        for what in missing:
            out.print(f"warning: {what} is missing; drawn without it")
        specs.append((plot.id, chart))
    formats = ("html", "svg", "png") if png else ("html", "svg")
    written = write(specs, out_dir, formats)
    out.print(f"wrote {len(written)} files to {out_dir} (open {out_dir / 'index.html'})")
    return 0
