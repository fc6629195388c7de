"""Tables: counts, schema and statistics as pyarrow reports them; encoding-proof content digests."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import rfc8785

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint import StatCache, fingerprint
from auditpipe.fingerprint.table import CSV_BLOCK, scalar_value
from tests.unit.fingerprint.conftest import sha256sum

UTC = dt.UTC


def sample_table(n: int = 500) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "small": pa.array([i % 7 - 3 if i % 11 else None for i in range(n)], pa.int8()),
            "big": pa.array([2**63 + i for i in range(n)], pa.uint64()),
            "score": pa.array(
                [float("nan") if i == 3 else (i * 0.5 if i % 13 else None) for i in range(n)]
            ),
            "name": pa.array([f"name-{i % 37}" if i % 5 else None for i in range(n)]),
            "flag": pa.array([None if i % 9 == 0 else i % 2 == 0 for i in range(n)]),
            "day": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(n)]),
            "at": pa.array(
                [1_600_000_000_123_456_789 + i * 1_000_000_007 for i in range(n)],
                pa.timestamp("ns", tz="UTC"),
            ),
            "naive": pa.array(
                [dt.datetime(2021, 5, 1) + dt.timedelta(minutes=i) for i in range(n)],
                pa.timestamp("ms"),
            ),
            "price": pa.array([decimal.Decimal(i) / 100 for i in range(n)], pa.decimal128(12, 2)),
            "raw": pa.array([bytes([i % 256, 0]) for i in range(n)], pa.binary()),
            "tags": pa.array([[i, i + 1] if i % 4 else None for i in range(n)]),
        }
    )


def expected_stats(table: pa.Table, column: str) -> dict[str, Any]:
    """What pyarrow computes from the data itself, in the descriptor's JSON form."""
    arr = table.column(column)
    out: dict[str, Any] = {"nullCount": arr.null_count}
    mm = pc.min_max(arr)
    if mm["min"].is_valid:
        out["min"] = scalar_value(mm["min"])[1]
        out["max"] = scalar_value(mm["max"])[1]
    return out


def test_parquet_counts_schema_and_statistics_equal_pyarrow(tmp_path: Path) -> None:
    table = sample_table()
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=64)  # 8 row groups to aggregate
    fp = fingerprint(path, root=tmp_path)
    assert fp.sha256 == sha256sum(path)
    info = fp.table
    assert info is not None
    md = pq.read_metadata(path)
    schema = pq.read_schema(path)
    assert info.format == "parquet"
    assert info.rows == md.num_rows == 500
    assert info.columns == len(schema) == 12
    assert [(f.name, f.type, f.nullable) for f in info.schema] == [
        (f.name, str(f.type), f.nullable) for f in schema
    ]
    stats = fp.to_dict()["table"]["columnStats"]  # type: ignore[index]
    for column in table.column_names:
        if column == "tags":
            continue
        assert stats[column] == expected_stats(table, column), column
    # spot checks of the JSON forms
    assert stats["at"]["min"] == "2020-09-13T12:26:40.123456789Z"
    assert stats["naive"]["min"] == "2021-05-01T00:00:00.000"
    assert stats["big"]["max"] == str(2**63 + 499)  # beyond 2^53: a string
    assert stats["price"]["max"] == "4.99"
    assert stats["raw"]["min"] == "0000"
    assert stats["tags.list.element"]["min"] == 1


def test_parquet_statistics_come_from_metadata_only(tmp_path: Path) -> None:
    """Without statistics in the footer nothing is computed from the data pages."""
    path = tmp_path / "nostats.parquet"
    pq.write_table(sample_table(50), path, write_statistics=False)
    info = fingerprint(path, root=tmp_path).table
    assert info is not None
    assert info.rows == 50
    assert info.stats("id").to_dict() == {}


def test_schema_digest_tracks_the_schema_only(tmp_path: Path) -> None:
    a = pa.table({"x": [1, 2], "y": ["a", "b"]})
    pq.write_table(a, tmp_path / "a.parquet")
    pq.write_table(a.slice(1), tmp_path / "b.parquet")
    pq.write_table(
        a.cast(pa.schema([("x", pa.int32()), ("y", pa.string())])), tmp_path / "c.parquet"
    )
    da, db, dc = (fingerprint(tmp_path / f"{n}.parquet").table for n in "abc")
    assert da and db and dc
    assert da.schema_digest == db.schema_digest != dc.schema_digest


def test_parquet_dataset_with_hive_partitions(tmp_path: Path) -> None:
    table = pa.table({"v": list(range(12)), "year": [2020, 2021, 2022] * 4, "kind": ["a", "b"] * 6})
    root = tmp_path / "ds"
    pq.write_to_dataset(table, root, partition_cols=["year", "kind"])
    (root / "_SUCCESS").write_text("")
    fp = fingerprint(root, root=tmp_path)
    assert fp.kind == "directory"
    info = fp.table
    assert info is not None
    import pyarrow.dataset as ds

    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    assert info.rows == dataset.count_rows() == 12
    assert [(f.name, f.type) for f in info.schema] == [
        (f.name, str(f.type)) for f in dataset.schema
    ]
    assert info.partitioning == ("year", "kind")
    whole = dataset.to_table()
    for column in ("v", "year", "kind"):
        assert info.stats(column).to_dict() == expected_stats(whole, column), column


def test_arrow_ipc_feather_and_csv(tmp_path: Path) -> None:
    table = sample_table(300).drop_columns(["tags"])
    feather.write_feather(table, tmp_path / "t.feather", compression="zstd", chunksize=50)
    with (
        pa.OSFile(str(tmp_path / "t.arrows"), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table, max_chunksize=70)
    for name in ("t.feather", "t.arrows"):
        info = fingerprint(tmp_path / name).table
        assert info is not None, name
        assert info.format == "arrow"
        assert info.rows == 300
        assert [f.name for f in info.schema] == table.column_names
        for column in table.column_names:
            assert info.stats(column).to_dict() == expected_stats(table, column), (name, column)
    csv_table = pa.table({"n": [3, None, 1], "s": ["b", "a", None], "x": [0.5, 2.5, 1.0]})
    pacsv.write_csv(csv_table, tmp_path / "t.csv")
    info = fingerprint(tmp_path / "t.csv").table
    assert info is not None
    read = pacsv.read_csv(tmp_path / "t.csv")
    assert info.format == "csv"
    assert info.rows == read.num_rows == 3
    assert [(f.name, f.type) for f in info.schema] == [(f.name, str(f.type)) for f in read.schema]
    for column in read.column_names:
        assert info.stats(column).to_dict() == expected_stats(read, column)


def test_csv_column_that_stops_parsing_as_a_number_becomes_text(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    rows = "".join(f"{i},1\n" for i in range(1_000_000))
    path.write_text(f"n,m\n{rows}x,2\n")
    assert path.stat().st_size > 2 * CSV_BLOCK  # "x" is far beyond the block types come from
    info = fingerprint(path).table
    assert info is not None
    assert info.rows == 1_000_001
    assert [(f.name, f.type) for f in info.schema] == [("n", "string"), ("m", "int64")]
    assert info.stats("m").to_dict() == {"nullCount": 0, "min": 1, "max": 2}
    assert info.stats("n").to_dict() == {"nullCount": 0, "min": "0", "max": "x"}


@pytest.mark.parametrize(
    "content",
    [b"", b"PAR1", b"not parquet at all", "truncate"],
)
def test_broken_parquet_is_an_error_naming_the_file(tmp_path: Path, content: object) -> None:
    path = tmp_path / "broken.parquet"
    if content == "truncate":
        pq.write_table(sample_table(), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(FingerprintError) as info:
        fingerprint(path, root=tmp_path)
    assert info.value.path == "broken.parquet"
    assert "Parquet" in info.value.message


def test_broken_file_in_a_dataset_is_named(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    pq.write_to_dataset(pa.table({"v": [1, 2], "p": [1, 2]}), root, partition_cols=["p"])
    victim = next((root / "p=2").iterdir())
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(FingerprintError) as info:
        fingerprint(root, root=tmp_path)
    assert info.value.path == f"ds/p=2/{victim.name}"


# -- content digest -----------------------------------------------------------------


def write_encodings(table: pa.Table, d: Path) -> list[Path]:
    d.mkdir(exist_ok=True)
    out = []
    variants: list[tuple[str, dict[str, Any]]] = [
        ("snappy", {}),
        ("zstd", {"compression": "zstd", "row_group_size": 37, "use_dictionary": False}),
        ("gzip", {"compression": "gzip", "data_page_size": 512, "data_page_version": "2.0"}),
        ("plain", {"compression": "none", "use_dictionary": True, "write_statistics": False}),
    ]
    for name, kwargs in variants:
        out.append(d / f"{name}.parquet")
        pq.write_table(table, out[-1], **kwargs)
    out.append(d / "lz4.feather")
    feather.write_feather(table, out[-1], compression="lz4", chunksize=91)
    out.append(d / "uncompressed.arrow")
    feather.write_feather(table, out[-1], compression="uncompressed")
    # large types and dictionary encoding are encodings too
    wide = table.cast(
        pa.schema(
            [
                pa.field(f.name, pa.large_string())
                if f.type == pa.string()
                else pa.field(f.name, pa.large_binary())
                if f.type == pa.binary()
                else pa.field(f.name, pa.large_list(pa.int64()))
                if pa.types.is_list(f.type)
                else f
                for f in table.schema
            ]
        )
    )
    out.append(d / "large.parquet")
    pq.write_table(wide, out[-1], row_group_size=100)
    dictionary = table.set_column(
        table.schema.get_field_index("name"), "name", pc.dictionary_encode(table["name"])
    )
    out.append(d / "dict.arrow")
    feather.write_feather(dictionary, out[-1])
    return out


def content_digest(path: Path) -> str:
    info = fingerprint(path, content=True).table
    assert info is not None and info.content_digest is not None
    return info.content_digest


def test_content_digest_survives_reencoding(tmp_path: Path) -> None:
    table = sample_table()
    paths = write_encodings(table, tmp_path / "enc")
    byte_digests = {sha256sum(p) for p in paths}
    assert len(byte_digests) == len(paths)  # really different files
    digests = {p.name: content_digest(p) for p in paths}
    assert len(set(digests.values())) == 1, digests


@pytest.mark.parametrize(
    ("column", "row", "value"),
    [
        ("id", 250, 10_000),
        ("name", 10, "name-x"),
        ("name", 0, "name-0"),  # a null becomes a value
        ("small", 1, None),  # a value becomes null
        ("score", 3, 0.0),  # NaN becomes a number
        ("at", 499, 0),
        ("tags", 5, [5, 7]),
    ],
)
def test_content_digest_changes_when_one_value_changes(
    tmp_path: Path, column: str, row: int, value: object
) -> None:
    table = sample_table()
    values = table.column(column).to_pylist() if column != "at" else None
    if column == "at":
        ints = pc.cast(table.column(column), pa.int64()).to_pylist()
        ints[row] = value
        new = pa.array(ints, pa.int64()).cast(table.schema.field(column).type)
    else:
        assert values is not None
        assert values[row] != value or (value is None) != (values[row] is None)
        values[row] = value
        new = pa.array(values, table.schema.field(column).type)
    changed = table.set_column(table.schema.get_field_index(column), column, new)
    pq.write_table(table, tmp_path / "a.parquet")
    pq.write_table(changed, tmp_path / "b.parquet")
    assert content_digest(tmp_path / "a.parquet") != content_digest(tmp_path / "b.parquet")


def test_null_is_not_confused_with_zero_or_empty(tmp_path: Path) -> None:
    tables = {
        "null": pa.table({"x": pa.array([1, None], pa.int64()), "s": ["a", None]}),
        "zero": pa.table({"x": pa.array([1, 0], pa.int64()), "s": ["a", None]}),
        "empty": pa.table({"x": pa.array([1, None], pa.int64()), "s": ["a", ""]}),
        "moved": pa.table({"x": pa.array([1, None], pa.int64()), "s": ["", "a"]}),
    }
    digests = set()
    for name, table in tables.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
        digests.add(content_digest(tmp_path / f"{name}.parquet"))
    assert len(digests) == len(tables)


def test_content_digest_is_cached_by_byte_digest(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(sample_table(), path)
    with StatCache(tmp_path / "cache.sqlite") as cache:
        first = fingerprint(path, cache=cache, content=True)
        second = fingerprint(path, cache=cache, content=True)
        plain = fingerprint(path, cache=cache)
    assert first == second
    assert first.table is not None and plain.table is not None
    assert plain.table.content_digest is None
    assert plain.table.rows == first.table.rows


def test_to_dict_is_signable_json(tmp_path: Path) -> None:
    table = sample_table().append_column("inf", pa.array([float("inf"), float("-inf")] * 250))
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    d = fingerprint(path, root=tmp_path, content=True).to_dict()
    rfc8785.dumps(d)  # raises on NaN, infinity and integers beyond 2^53
    assert json.loads(json.dumps(d)) == d
    assert set(d) == {"path", "kind", "sha256", "size", "table"}
    t = d["table"]
    assert isinstance(t, dict)
    assert set(t) == {
        "format",
        "rows",
        "columns",
        "schema",
        "schemaDigest",
        "columnStats",
        "contentDigest",
    }
    assert t["columnStats"]["inf"] == {"nullCount": 0, "min": "-Infinity", "max": "Infinity"}  # type: ignore[index,call-overload]


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("ragged.csv", b"a,b\n1,2\n3,4,5\n", "CSV"),
        ("t.feather", b"ARROW1\x00\x00 truncated", "Arrow IPC/Feather"),
        ("t.arrow", b"", "Arrow IPC/Feather"),
    ],
)
def test_unreadable_tables_are_errors_naming_the_file(
    tmp_path: Path, name: str, content: bytes, kind: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(FingerprintError) as info:
        fingerprint(tmp_path / name, root=tmp_path)
    assert info.value.path == name
    assert kind in info.value.message
