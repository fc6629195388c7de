"""`auditpipe export openlineage` over runs recorded outside `auditpipe run`: stable run
ids (the recorded UUID v7, else one derived from the entry id), `--since`, and every
event valid against the OpenLineage spec."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import auditpipe
from auditpipe.export.openlineage.runid import run_id_of
from tests.conftest import Project, Result
from tests.lineage_support import validate_event

Cli = Callable[..., Result]


def export(cli: Cli, out: Path, *args: str) -> list[dict[str, object]]:
    result = cli("export", "openlineage", "-o", str(out), *args)
    assert result.code == 0, result.err
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_backfill_of_recorded_runs_is_stable_and_valid(
    project: Project, cli: Cli, tmp_path: Path
) -> None:
    by_cli = cli("record", "--stage", "prepare", "--dep", "data/raw.csv", "--out", "src/train.py")
    assert by_cli.code == 0, by_cli.err
    cli_entry = by_cli.out.strip()
    project.gen({"models/model.pkl": b"weights"})
    with auditpipe.record_stage(
        "train", deps=["src/train.py"], outs=["models/model.pkl"], params={"lr": 0.1}
    ) as run:
        run.log_metrics({"acc": 0.9})
    assert run.entry_id is not None

    first = export(cli, tmp_path / "a.jsonl")
    assert export(cli, tmp_path / "b.jsonl") == first
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert [(e["job"]["name"], e["eventType"]) for e in first] == [
        ("prepare", "START"),
        ("prepare", "COMPLETE"),
        ("train", "START"),
        ("train", "COMPLETE"),
    ]
    for event in first:
        validate_event(event)
    ids = {e["job"]["name"]: e["run"]["runId"] for e in first}
    assert ids["prepare"] == run_id_of(cli_entry, None)
    assert uuid.UUID(ids["train"]).version == 7
    shown = json.loads(cli("show", run.entry_id, "--json").out)
    assert shown["statement"]["predicate"]["openlineageRunId"] == ids["train"]
    # The consumer's input is the producer's output, named the same way.
    train_start = first[2]
    assert train_start["inputs"][0]["name"] == str(project.root / "src/train.py")

    assert export(cli, tmp_path / "c.jsonl", "--since", "2999-01-01") == []
    assert export(cli, tmp_path / "d.jsonl", "--since", "2000-01-01T00:00:00Z") == first


def test_runs_by_an_untrusted_key_are_not_exported(
    project: Project, cli: Cli, tmp_path: Path
) -> None:
    """Attack: a run appended with a key the project does not trust must not reach
    a catalog as fact."""
    assert cli("record", "--stage", "prepare", "--out", "data/raw.csv").code == 0
    assert cli("keys", "generate", "--name", "intruder").code == 0
    forged = cli("record", "--stage", "train", "--out", "src/train.py", "--key", "intruder")
    assert forged.code == 0, forged.err
    out = tmp_path / "x.jsonl"
    result = cli("export", "openlineage", "-o", str(out))
    assert result.code == 0, result.err
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert {e["job"]["name"] for e in events} == {"prepare"}
    assert "skipped 1 runs" in result.err and forged.out.strip()[:12] in result.err
