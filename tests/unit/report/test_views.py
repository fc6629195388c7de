"""Template values: table profiles as the fingerprinter records them, params as rows."""

from __future__ import annotations

from pathlib import Path

from auditpipe.fingerprint import fingerprint
from auditpipe.report.appendix import digest_command
from auditpipe.report.views import Row, rows, size, table_view, text


def test_table_profile_of_a_csv(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("id,score,name\n1,0.5,a\n2,,b\n3,2.5,c\n")
    fp = fingerprint(tmp_path / "t.csv", root=tmp_path)
    assert fp.table is not None
    view = table_view(fp.table.to_dict())
    assert view is not None
    assert (view.format, view.rows, view.columns) == ("csv", "3", "3")
    assert view.schema_digest == fp.table.schema_digest
    score = {c.name: c for c in view.fields}["score"]
    assert (score.type, score.null_count, score.min, score.max) == ("double", "1", "0.5", "2.5")
    assert table_view(None) is None


def test_params_become_sorted_dotted_rows() -> None:
    params = {"train": {"lr": 0.1, "layers": [64, 32]}, "seed": 7, "name": "x", "off": None}
    assert rows(params) == [
        Row("name", "x"),
        Row("off", ""),
        Row("seed", "7"),
        Row("train.layers", "[64, 32]"),
        Row("train.lr", "0.1"),
    ]
    assert text(True) == "true" and text({"b": 1, "a": "é"}) == '{"a": "é", "b": 1}'
    assert size(1234567) == "1,234,567 B" and size(None) == ""


def test_recheck_commands_quote_paths_and_know_directories() -> None:
    assert digest_command("models/my model.pkl", set()) == "sha256sum 'models/my model.pkl'"
    assert digest_command("data/raw", {"data/raw"}) == "auditpipe fingerprint data/raw"
