"""`auditpipe run` with OpenLineage configured: the example pipeline posts schema-valid
START/COMPLETE pairs (FAIL for a failed gate) to a real HTTP endpoint, carrying the
run ids signed into the ledger, and `export openlineage` reproduces them."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result, git, run_auditpipe
from tests.lineage_support import LineageEndpoint, validate_event

EXAMPLE = Path(__file__).parents[2] / "examples" / "wine-quality"
STAGES = ["prepare", "featurize", "train", "evaluate"]


@pytest.fixture
def endpoint() -> Iterator[LineageEndpoint]:
    server = LineageEndpoint()
    yield server
    server.close()


@pytest.fixture
def wine(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The wine-quality example in its own git repository, after `auditpipe init`."""
    root = tmp_path / "wine-quality"
    shutil.copytree(EXAMPLE, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "remote", "add", "origin", "https://token:s3cret@git.example.com/ml/wine.git")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "example")
    monkeypatch.chdir(root)
    # The example's commands say `python`: the interpreter running the tests.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for name in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)
    assert run_auditpipe(root, "init").code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "auditpipe init")
    return root


def run_with_lineage(root: Path, url: str, *args: str) -> Result:
    return run_auditpipe(root, "run", *args, env={"OPENLINEAGE_URL": url})


def signed_runs(root: Path) -> dict[str, dict[str, Any]]:
    """Entry id -> predicate of every stage run on the ledger."""
    log = run_auditpipe(root, "log", "--json")
    assert log.code == 0, log.err
    runs = {}
    for row in json.loads(log.out):
        shown = run_auditpipe(root, "show", row["id"], "--json")
        statement = json.loads(shown.out)
        runs[row["id"]] = statement.get("statement", statement)["predicate"]
    return runs


def by_run(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    pairs: dict[str, list[str]] = {}
    for event in events:
        pairs.setdefault(event["run"]["runId"], []).append(event["eventType"])
    return pairs


def as_exported(event: dict[str, Any]) -> dict[str, Any]:
    """What a backfill reproduces of a live event: all of it but the START's time (a
    live START is stamped when sent, the signed startedAt a moment later) and the
    ``tags`` facet the OpenLineage client adds to whatever it sends."""
    out = json.loads(json.dumps(event))
    if out["eventType"] == "START":
        del out["eventTime"]
    out["run"]["facets"].pop("tags", None)
    return out


def test_example_pipeline_posts_valid_start_complete_pairs_and_backfill_reproduces_them(
    wine: Path, endpoint: LineageEndpoint, tmp_path: Path
) -> None:
    result = run_with_lineage(wine, endpoint.url)
    assert result.code == 0, result.err
    assert "warning" not in result.err
    events = endpoint.wait_for(8)
    assert len(events) == 8
    for event in events:
        validate_event(event)
    assert by_run(events) and all(
        kinds == ["START", "COMPLETE"] for kinds in by_run(events).values()
    )
    assert sorted(e["job"]["name"] for e in events if e["eventType"] == "COMPLETE") == sorted(
        STAGES
    )
    # Job namespace from the repository, without the credentials in its remote URL.
    assert {e["job"]["namespace"] for e in events} == {"git.example.com/ml/wine"}
    assert "s3cret" not in json.dumps(events)

    # The run id each event carries is the one signed into the run, and COMPLETE
    # names the entry that holds it.
    runs = signed_runs(wine)
    completes = [e for e in events if e["eventType"] == "COMPLETE"]
    for event in completes:
        facet = event["run"]["facets"]["auditpipe"]
        assert runs[facet["entryId"]]["openlineageRunId"] == event["run"]["runId"]
        assert facet["status"] == "succeeded"
        assert (
            facet["entryPath"] == f"entries/{facet['entryId'][:2]}/{facet['entryId']}.sigstore.json"
        )

    # Datasets by the naming spec: local files are namespace "file" + absolute path.
    train = next(e for e in completes if e["job"]["name"] == "train")
    inputs = {d["name"]: d for d in train["inputs"]}
    features = inputs[str(wine / "data/features/train.parquet")]
    assert features["namespace"] == "file"
    assert [f["name"] for f in features["facets"]["schema"]["fields"]][-1] == "cultivar"
    metrics = features["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] > 0 and metrics["columnMetrics"] == {}  # stats are opt-in
    prepare = next(e for e in completes if e["job"]["name"] == "prepare")
    train_out = next(o for o in prepare["outputs"] if o["name"].endswith("train.parquet"))
    gate = train_out["facets"]["dataQualityAssertions"]["assertions"][0]
    assert gate == {**gate, "assertion": "great_expectations_suite", "success": True}
    assert (
        train["job"]["facets"]["sourceCodeLocation"]["version"]
        == git(wine, "rev-parse", "HEAD").strip()
    )

    out = tmp_path / "lineage.jsonl"
    export = run_auditpipe(wine, "export", "openlineage", "-o", str(out))
    assert export.code == 0, export.err
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    for event in exported:
        validate_event(event)
    key = lambda e: (e["run"]["runId"], e["eventType"])  # noqa: E731
    assert sorted(map(as_exported, exported), key=key) == sorted(map(as_exported, events), key=key)


def test_a_failed_gate_posts_fail_with_the_failed_assertions(
    wine: Path, endpoint: LineageEndpoint, tmp_path: Path
) -> None:
    params = (wine / "params.yaml").read_text().replace("bad_rows: 0", "bad_rows: 5")
    (wine / "params.yaml").write_text(params)
    result = run_with_lineage(wine, endpoint.url)
    assert result.code == 1, result.err
    events = endpoint.wait_for(2)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    for event in events:
        validate_event(event)
    fail = events[1]
    assert fail["run"]["facets"]["auditpipe"]["status"] == "gate_failed"
    assert "validation suite" in fail["run"]["facets"]["errorMessage"]["message"]
    asserted = [
        a
        for o in fail["outputs"]
        for a in o["facets"].get("dataQualityAssertions", {}).get("assertions", [])
    ]
    assert any(not a["success"] and a.get("column") == "alcohol" for a in asserted)

    out = tmp_path / "lineage.jsonl"
    assert run_auditpipe(wine, "export", "openlineage", "-o", str(out)).code == 0
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert [as_exported(e) for e in exported] == [as_exported(e) for e in events]
