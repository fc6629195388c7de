"""`auditpipe run` / `status` on real pipelines: only what changed re-runs,
independent stages run in parallel, every run is signed with its lineage."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, Result, run_auditpipe

PIPELINE = """\
params: params.yaml
stages:
  a:
    cmd: python3 steps/a.py
    deps: [steps/a.py, in/raw.txt]
    params: [a.n]
    outs: [out/a.txt]
  b:
    cmd: python3 steps/b.py
    deps: [steps/b.py, out/a.txt]
    outs: [out/b.txt]
  c:
    cmd: python3 steps/c.py
    deps: [steps/c.py, out/b.txt]
    metrics: [out/c.json]
  d:
    cmd: python3 steps/d.py
    deps: [steps/d.py, in/other.txt]
    params: [d]
    outs: [out/d.txt]
"""

STEPS = {
    "steps/a.py": "import yaml\nn = yaml.safe_load(open('params.yaml'))['a']['n']\n"
    "open('out/a.txt', 'w').write(open('in/raw.txt').read() * n)\n",
    "steps/b.py": "open('out/b.txt', 'w').write(open('out/a.txt').read().upper())\n",
    "steps/c.py": "import json\njson.dump({'len': len(open('out/b.txt').read())}, "
    "open('out/c.json', 'w'))\n",
    "steps/d.py": "import yaml\np = yaml.safe_load(open('params.yaml'))['d']\n"
    "open('out/d.txt', 'w').write(str(p))\n",
}


@pytest.fixture
def pipeline(project: Project) -> Project:
    project.gen(
        {
            "auditpipe.yaml": PIPELINE,
            "params.yaml": "a:\n  n: 2\nd:\n  k: 1\n",
            "in/raw.txt": "abc\n",
            "in/other.txt": "x\n",
            "out/.keep": "",
            **STEPS,
        }
    )
    project.commit("pipeline")
    return project


def ran(result: Result) -> list[str]:
    """Stages the run executed, from the recorded-lines it prints."""
    return sorted(line.split()[1] for line in result.err.splitlines() if line.startswith("✓ "))


def ledger_runs(cli: Callable[..., Result]) -> list[dict]:
    result = cli("log", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_runs_everything_then_nothing(pipeline: Project, cli: Callable[..., Result]) -> None:
    first = cli("run")
    assert first.code == 0, first.err
    assert ran(first) == ["a", "b", "c", "d"]
    second = cli("run")
    assert second.code == 0, second.err
    assert ran(second) == []
    assert "every stage is up to date" in second.err
    status = json.loads(cli("status", "--json").out)
    assert all(row["upToDate"] for row in status)
    assert cli("verify", "--ledger").code == 0


def test_changed_param_reruns_exactly_its_downstream(
    pipeline: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    pipeline.gen({"params.yaml": "a:\n  n: 3\nd:\n  k: 1\n"})
    status = {row["stage"]: row for row in json.loads(cli("status", "--json").out)}
    assert not status["a"]["upToDate"]
    assert any("param a.n changed: 2 -> 3" in r for r in status["a"]["reasons"])
    assert status["d"]["upToDate"]
    assert ran(cli("run")) == ["a", "b", "c"]


def test_edited_dependency_reruns_its_downstream_only(
    pipeline: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    pipeline.gen({"in/other.txt": "y\n"})
    status = {row["stage"]: row for row in json.loads(cli("status", "--json").out)}
    assert any("dependency in/other.txt changed" in r for r in status["d"]["reasons"])
    assert ran(cli("run")) == ["d"]


def test_deleted_output_is_restored_without_a_rerun(
    pipeline: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    before = (pipeline.root / "out/b.txt").read_bytes()
    (pipeline.root / "out/b.txt").unlink()
    status = {row["stage"]: row for row in json.loads(cli("status", "--json").out)}
    assert status["b"]["reasons"] == [
        "output out/b.txt missing",
        "cached: `auditpipe run` or `auditpipe checkout` restores it",
    ]
    # b's signed products come back from the cache; c (downstream) stays up to date.
    again = cli("run")
    assert again.code == 0, again.err
    assert ran(again) == []
    assert "b: stage is cached — restored outputs" in again.err
    assert (pipeline.root / "out/b.txt").read_bytes() == before
    assert len(ledger_runs(cli)) == 4  # nothing new was signed


def test_deleted_output_reruns_only_its_stage_when_the_cache_lost_it(
    pipeline: Project, cli: Callable[..., Result]
) -> None:
    assert cli("run").code == 0
    (pipeline.root / "out/b.txt").unlink()
    import shutil

    shutil.rmtree(pipeline.root / ".git/auditpipe/cache")
    # b re-creates identical bytes, so c (which depends on them) stays up to date.
    assert ran(cli("run")) == ["b"]


def test_produced_by_links_follow_the_data(pipeline: Project, cli: Callable[..., Result]) -> None:
    assert cli("run").code == 0
    runs = {r["stage"]: r for r in ledger_runs(cli)}
    shown = json.loads(cli("show", runs["b"]["id"], "--json").out)["statement"]
    materials = {m["name"]: m for m in shown["predicate"]["materials"]}
    assert materials["out/a.txt"]["producedBy"] == runs["a"]["id"]
    shown_a = json.loads(cli("show", runs["a"]["id"], "--json").out)["statement"]
    raw = {m["name"]: m for m in shown_a["predicate"]["materials"]}["in/raw.txt"]
    assert "producedBy" not in raw  # source data: no run made it
    assert shown_a["predicate"]["params"] == {"a.n": 2}
    c = json.loads(cli("show", runs["c"]["id"], "--json").out)["statement"]
    assert c["predicate"]["metrics"] == {"len": 8}


def test_failing_command_is_recorded_and_stops_downstream(
    pipeline: Project, cli: Callable[..., Result]
) -> None:
    text = (pipeline.root / "auditpipe.yaml").read_text()
    pipeline.gen({"auditpipe.yaml": text.replace("cmd: python3 steps/b.py", "cmd: exit 3")})
    result = cli("run", "-j", "1")
    assert result.code == 1
    runs = ledger_runs(cli)
    failed = [r for r in runs if r["stage"] == "b"]
    assert [r["status"] for r in failed] == ["failed"]
    assert failed[0]["subjects"] == []  # a failed run produces no artifacts
    assert "c" not in {r["stage"] for r in runs}
    assert "b" in result.err and "exited with 3" in result.err
    assert cli("verify", "--ledger").code == 0


def test_independent_stages_run_in_parallel(project: Project, cli: Callable[..., Result]) -> None:
    project.gen(
        {
            "auditpipe.yaml": "stages:\n"
            "  s1:\n    cmd: sleep 1 && echo one > one.txt\n    outs: [one.txt]\n"
            "  s2:\n    cmd: sleep 1 && echo two > two.txt\n    outs: [two.txt]\n",
        }
    )
    project.commit("two sleepers")
    start = time.monotonic()
    result = cli("run", "-j", "2")
    elapsed = time.monotonic() - start
    assert result.code == 0, result.err
    assert ran(result) == ["s1", "s2"]
    assert elapsed < 1.6, f"took {elapsed:.2f}s"


@pytest.mark.parametrize(
    ("yaml_text", "line", "phrase"),
    [
        ("stages:\n  a:\n    cmd: x\n    dpes: [a]\n", 4, "dpes"),
        ("stages:\n  a:\n    deps: [x]\n", 2, "cmd"),
        ("stages:\n  a:\n    cmd: x\n    outs: [../escape.txt]\n", 4, "escapes the repository"),
        (
            "stages:\n  a:\n    cmd: x\n    outs: [o.txt]\n  b:\n    cmd: y\n    outs: [o.txt]\n",
            None,
            "o.txt",
        ),
    ],
)
def test_bad_spec_exits_2_with_file_and_line(
    project: Project, yaml_text: str, line: int | None, phrase: str
) -> None:
    project.gen({"auditpipe.yaml": yaml_text})
    result = run_auditpipe(project.root, "run")
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert "auditpipe.yaml" in result.err
    if line is not None:
        assert f"auditpipe.yaml:{line}" in result.err
    assert phrase in result.err


@pytest.mark.slow
def test_readme_demo_runs_the_example_end_to_end(tmp_path: Path) -> None:
    repo = Path(__file__).parents[2]
    proc = subprocess.run(
        ["bash", str(repo / "examples" / "demo.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "AUDITPIPE_DEMO_DIR": str(tmp_path / "demo"),
            "AUDITPIPE_CONFIG_DIR": str(tmp_path / "config"),
        },
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    combined = proc.stdout + proc.stderr
    assert "4 ran" in combined
    assert "every stage is up to date" in combined
    assert "ledger OK: 4 entries" in combined


def test_status_and_run_work_from_a_subdirectory(
    pipeline: Project, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("run").code == 0
    monkeypatch.chdir(pipeline.root / "in")
    status = cli("status", "--json")
    assert status.code == 0, status.err
    assert all(row["upToDate"] for row in json.loads(status.out))
    assert ran(cli("run")) == []
