"""The `cache:` section (remote output caches): parsed, normalized, errors at file:line,
and no effect on any stage key."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.planner import stage_key
from auditpipe.pipeline.spec import load_pipeline

STAGES = """\
stages:
  train:
    cmd: python src/train.py
    deps: [src/train.py]
    outs: [models/model.pkl, {metrics.json: {remote: models}}]
"""


def load(root: Path, cache: str) -> object:
    (root / "auditpipe.yaml").write_text(cache + STAGES)
    return load_pipeline(root)


def test_remotes_parse_normalized_and_resolve_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDITPIPE_CACHE_REMOTE", raising=False)
    spec = load(
        tmp_path,
        "cache:\n  remote: S3://ci-cache/wine/\n  remotes:\n    models: s3://ml/./models\n",
    )
    remotes = spec.remotes  # type: ignore[attr-defined]
    assert remotes.default == "s3://ci-cache/wine"
    assert remotes.url(None) == "s3://ci-cache/wine"
    assert remotes.url("models") == "s3://ml/models"
    with pytest.raises(ConfigError, match="remote 'nope', which `cache: remotes:` does not"):
        remotes.url("nope")
    assert remotes.overridden("models").default == "s3://ml/models"
    assert remotes.overridden("gs://other/p").default == "gs://other/p"
    monkeypatch.setenv("AUDITPIPE_CACHE_REMOTE", "s3://from-env/x")
    assert remotes.overridden(None).default == "s3://from-env/x"


def test_the_cache_section_changes_no_stage_key(tmp_path: Path) -> None:
    without = load(tmp_path, "").stages["train"]  # type: ignore[attr-defined]
    with_remote = load(tmp_path, "cache: {remote: s3://b/p}\n").stages["train"]  # type: ignore[attr-defined]
    deps = {"src/train.py": "a" * 64}
    assert stage_key(without, deps, {}, {}) == stage_key(with_remote, deps, {}, {})


@pytest.mark.parametrize(
    ("cache", "line", "phrase"),
    [
        ("cache:\n  remtoe: s3://b/p\n", 2, "unknown key 'remtoe' in cache"),
        ("cache:\n  remote: /mnt/cache\n", 2, "is not an object-store URL"),
        ("cache:\n  remote: s3:///p\n", 2, "names no bucket"),
        ("cache:\n  remotes:\n    m: [s3://b]\n", 3, "remote 'm' must be a string"),
        ("cache: s3://b/p\n", 1, "cache must be a mapping"),
    ],
)
def test_bad_cache_sections_name_file_and_line(
    tmp_path: Path, cache: str, line: int, phrase: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, cache)
    assert caught.value.line == line
    assert caught.value.path is not None and caught.value.path.endswith("auditpipe.yaml")
    assert phrase in caught.value.message
