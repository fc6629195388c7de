"""Object-store URLs in a spec keep their scheme and are normalized like paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.dag import normalize_path
from auditpipe.pipeline.spec import load_pipeline
from auditpipe.storage import is_url, normalize_url


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("s3://bucket/key.csv", "s3://bucket/key.csv"),
        ("S3://bucket/a/./b//c/", "s3://bucket/a/b/c"),
        ("gs://bucket", "gs://bucket"),
        ("abfs://container/dir/", "abfs://container/dir"),
        ("hdfs://namenode/data/x.parquet", "hdfs://namenode/data/x.parquet"),
    ],
)
def test_urls_stay_urls(raw: str, norm: str) -> None:
    assert normalize_path(raw) == norm


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [("s3:///key", "names no bucket"), ("s3://b/a/../c", "contains '..'")],
)
def test_bad_urls_say_why(raw: str, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        normalize_url(raw)


def test_only_object_store_schemes_are_urls() -> None:
    assert is_url("s3://b/k") and not is_url("http://example.com/x") and not is_url("s3:/b/k")
    # Anything else is still a repo path, as before (http:/… is a relative path).
    assert normalize_path("http://example.com/x") == "http:/example.com/x"


def test_spec_keeps_s3_deps_and_reports_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "auditpipe.yaml").write_text(
        "stages:\n  s:\n    cmd: x\n    deps: [s3://lake/raw/]\n    outs: [out]\n"
    )
    assert load_pipeline(tmp_path).stages["s"].deps == ("s3://lake/raw",)
    (tmp_path / "auditpipe.yaml").write_text(
        "stages:\n  s:\n    cmd: x\n    deps: ['s3:///raw']\n    outs: [out]\n"
    )
    with pytest.raises(ConfigError, match="names no bucket") as caught:
        load_pipeline(tmp_path)
    assert "auditpipe.yaml:4" in caught.value.diagnostics()
