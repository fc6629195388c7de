"""How often a run lists each S3 prefix (a real S3 server on loopback, moto): the
snapshot taken before a stage's deps are hashed and the assessment that hashes them
share one listing per prefix; the check after the stage ran lists again, since it
exists to see what changed meanwhile."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import Project, Result
from tests.integration.test_object_integrity import PIPELINE, PREPARE, s3, s3_server

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

__all__ = ["s3", "s3_server"]  # the fixtures, shared with the integrity tests


@pytest.fixture
def listings() -> Iterator[Counter[str]]:
    """The prefixes auditpipe's own client lists, counted."""
    from auditpipe.storage import s3 as store

    seen: Counter[str] = Counter()

    def record(params: dict[str, Any], **_: Any) -> None:
        seen[params.get("Prefix", "")] += 1

    events = store.client().meta.events
    events.register("provide-client-params.s3.ListObjectsV2", record)
    try:
        yield seen
    finally:
        events.unregister("provide-client-params.s3.ListObjectsV2", record)


def test_a_run_lists_each_dep_prefix_twice_not_three_times(
    s3: Any, project: Project, cli: Callable[..., Result], listings: Counter[str]
) -> None:
    project.gen({"auditpipe.yaml": PIPELINE, "steps/prepare.py": PREPARE})
    project.commit("pipeline")
    result = cli("run")
    assert result.code == 0, result.err
    # raw/: the snapshot + assessment (one listing), then the after-run check.
    assert listings["raw/"] == 2, listings
