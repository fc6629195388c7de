"""`auditpipe run` starts importing Ray on a thread whenever the run will use Ray:
chosen by `--executor ray` or by `executor: ray` in auditpipe.yaml (the flag wins)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from auditpipe.cli import run_cmd
from auditpipe.pipeline.executors.interface import CommandExecutor
from auditpipe.pipeline.executors.local import LocalExecutor
from tests.conftest import Project, Result

STAGE = "stages:\n  hello:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n"


@pytest.mark.parametrize(
    ("config", "flags", "imported", "kind"),
    [
        ("executor: ray\n", (), True, "ray"),
        ("", ("--executor", "ray"), True, "ray"),
        ("", (), False, "local"),
        ("executor: ray\n", ("--executor", "local"), False, "local"),
    ],
)
def test_ray_is_imported_meanwhile_whenever_the_run_uses_it(
    project: Project,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    config: str,
    flags: tuple[str, ...],
    imported: bool,
    kind: str,
) -> None:
    events: list[str] = []
    monkeypatch.setattr(run_cmd, "_import_ray_meanwhile", lambda: events.append("import"))

    def commands(chosen: str, address: str | None) -> CommandExecutor:
        events.append(chosen)  # the cluster itself is not under test: run locally
        return LocalExecutor()

    monkeypatch.setattr(run_cmd, "_commands", commands)
    project.gen({"auditpipe.yaml": config + STAGE})
    project.commit("pipeline")
    result = cli("run", *flags)
    assert result.code == 0, result.err
    assert events == (["import", kind] if imported else [kind])
