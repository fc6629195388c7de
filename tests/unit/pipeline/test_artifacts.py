"""Model cards: ``artifacts:`` in auditpipe.yaml (DVC's shape), errors with file and line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.artifacts import card_version, declared_artifacts
from auditpipe.pipeline.spec import load_pipeline
from auditpipe.workspace import Workspace

S = "stages:\n  train:\n    cmd: run\n    outs: [models/m.pkl]\n"  # lines 1-4
CARD = (
    "artifacts:\n"  # 5
    "  wine-quality:\n"  # 6
    "    path: ./models/m.pkl\n"  # 7
    "    type: model\n"
    "    labels: [tabular]\n"
    "    meta:\n"
    "      owner: Risk Analytics\n"
    "      risk_tier: high\n"
    "      approved_on: 2026-01-02\n"
    "      custom: {anything: [1, 2]}\n"
)


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "auditpipe.yaml").write_text(text)
    return load_pipeline(tmp_path)


def test_cards_are_read_with_paths_normalized_and_meta_kept(tmp_path: Path) -> None:
    spec = load(tmp_path, S + CARD)
    card = spec.artifacts["wine-quality"]
    assert declared_artifacts(spec) == ["models/m.pkl"]
    assert (card.type, card.labels, card.line) == ("model", ("tabular",), 6)
    assert card.meta["risk_tier"] == "high"
    assert card.meta["approved_on"] == "2026-01-02"  # dates become ISO strings
    assert card.meta["custom"] == {"anything": [1, 2]}


def test_the_card_is_not_part_of_the_stage_key_but_has_its_own_digest(tmp_path: Path) -> None:
    before = load(tmp_path, S + CARD)
    after = load(tmp_path, S + CARD.replace("risk_tier: high", "risk_tier: medium"))
    assert before.stages["train"].definition() == after.stages["train"].definition()
    assert before.artifacts["wine-quality"].sha256 != after.artifacts["wine-quality"].sha256


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("artifacts:\n  Wine_Q:\n    path: m.pkl\n", 2, "artifact name 'Wine_Q' is not valid"),
        ("artifacts:\n  m:\n    type: model\n", 2, "artifact 'm' needs a `path`"),
        ("artifacts:\n  m:\n    path: m.pkl\n    owner: x\n", 4, "unknown key 'owner'"),
        ("artifacts:\n  m:\n    path: m.pkl\n    meta: [x]\n", 4, "meta must be a mapping"),
        ("artifacts:\n  m:\n    path: /etc/passwd\n", 3, "absolute"),
        (
            "artifacts:\n  a:\n    path: m.pkl\n  b:\n    path: ./m.pkl\n",
            5,
            "already declared by artifact 'a'",
        ),
        ("artifacts: [m.pkl]\n", 1, "artifacts must be a mapping"),
    ],
)
def test_bad_cards_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "stages: {}\n" + text)
    assert caught.value.line == line + 1
    assert message in caught.value.message
    assert str(caught.value.path).endswith("auditpipe.yaml")


def test_version_from_meta_else_a_gto_tag_on_head_else_unversioned(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    text = S + CARD
    (tmp_path / "auditpipe.yaml").write_text(text)
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "x")
    workspace = Workspace.discover(str(tmp_path))
    card = load_pipeline(tmp_path).artifacts["wine-quality"]
    assert card_version(card, workspace) == "unversioned"
    git("tag", "other@v9.9.9")
    git("tag", "wine-quality@v1.2.0")
    assert card_version(card, workspace) == "v1.2.0"
    pinned = load(tmp_path, text.replace("risk_tier: high", "version: 2.0.0"))
    assert card_version(pinned.artifacts["wine-quality"], workspace) == "2.0.0"
