"""Tables: schema, row and column counts, column statistics and content digests, via pyarrow.

Owns everything that imports pyarrow (imported lazily by the rest of the
package, so plain files and directories are fingerprinted without it) and the
translation of pyarrow's errors into ``FingerprintError`` naming the file.

* Parquet files and datasets: counts, schema and statistics come from the
  footer metadata alone (row-group statistics aggregated; a column's min/max
  is reported only when every row group that has values carries them); the
  data pages are read only for ``content=True``. Hive partition columns get
  their statistics from the partition values.
* Arrow IPC / Feather (file or stream format): batches are read (memory-mapped
  when local) and statistics computed batch by batch.
* CSV: streamed with ``pyarrow.csv`` in bounded memory; types are those pyarrow
  infers from the first block, and a column that later fails to convert is
  read again as a string column.

The schema digest is the SHA-256 of the compact, key-sorted JSON list of
``{"name", "type", "nullable"}`` (pyarrow's type names, schema order).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint import formats
from auditpipe.fingerprint.content import ContentHasher
from auditpipe.fingerprint.fs import FileSystem
from auditpipe.fingerprint.model import (
    ColumnStats,
    Field,
    JSONValue,
    TableInfo,
    iso_duration,
    iso_time,
    iso_timestamp,
    json_safe,
)
from auditpipe.fingerprint.tree import Entry

BATCH_ROWS = 65_536
# Part of the table cache key: descriptions are computed by this pyarrow.
ENGINE = f"pyarrow-{pa.__version__}"
CSV_BLOCK = 4 << 20
_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_PARQUET_UNITS = {"milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns"}
_FORMAT_NAMES = {
    formats.PARQUET: "Parquet",
    formats.PARQUET_DATASET: "Parquet",
    formats.ARROW: "Arrow IPC/Feather",
    formats.CSV: "CSV",
}


def _invalid(fmt: str, display: str, exc: BaseException) -> FingerprintError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FingerprintError(
        f"not a readable {_FORMAT_NAMES.get(fmt, fmt)} file: {message}",
        path=display,
        hint="the file may be truncated or corrupt: re-create it"
        " (or rename it if it is not a table)",
    )


def schema_fields(schema: pa.Schema) -> tuple[Field, ...]:
    return tuple(Field(f.name, str(f.type), bool(f.nullable)) for f in schema)


def schema_digest(fields: Sequence[Field]) -> str:
    doc = [f.to_dict() for f in fields]
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# -- statistics ----------------------------------------------------------------------


class _Extremes:
    """Running min/max of one column as (comparable key, JSON value) pairs."""

    def __init__(self) -> None:
        self.null_count: int | None = 0
        self.known = True  # False once some values were seen without min/max
        self.min: tuple[Any, JSONValue] | None = None
        self.max: tuple[Any, JSONValue] | None = None

    def add_nulls(self, n: int | None) -> None:
        self.null_count = None if n is None or self.null_count is None else self.null_count + n

    def add(self, low: tuple[Any, JSONValue], high: tuple[Any, JSONValue]) -> None:
        if self.min is None or low[0] < self.min[0]:
            self.min = low
        if self.max is None or high[0] > self.max[0]:
            self.max = high

    def result(self) -> ColumnStats:
        if self.known and self.min is not None and self.max is not None:
            return ColumnStats(self.null_count, self.min[1], self.max[1], has_min_max=True)
        return ColumnStats(self.null_count)


def _orderable(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_temporal(t)
        or pa.types.is_decimal(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
    )


def scalar_value(s: pa.Scalar) -> tuple[Any, JSONValue]:
    """(comparable key, JSON value) of a pyarrow scalar, exact for every time unit."""
    t = s.type
    if pa.types.is_timestamp(t):
        return s.value, iso_timestamp(s.value, t.unit, t.tz is not None)
    if pa.types.is_time(t):
        return s.value, iso_time(s.value, t.unit)
    if pa.types.is_duration(t):
        return s.value, iso_duration(s.value, _DIGITS[t.unit])
    value = s.as_py()
    return value, json_safe(value)


class StreamStats:
    """Statistics of top-level columns, accumulated over record batches."""

    def __init__(self, schema: pa.Schema) -> None:
        self._columns = [(f.name, _Extremes()) for f in schema]
        self.rows = 0

    def update(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for (_name, ext), arr in zip(self._columns, batch.columns, strict=True):
            ext.add_nulls(arr.null_count)
            if pa.types.is_dictionary(arr.type):
                arr = arr.dictionary_decode()
            if not _orderable(arr.type) or arr.null_count == len(arr):
                continue
            mm = pc.min_max(arr)
            low, high = mm["min"], mm["max"]
            if not low.is_valid or (pa.types.is_floating(arr.type) and low.as_py() != low.as_py()):
                continue  # only NaNs: like Parquet, statistics ignore NaN
            ext.add(scalar_value(low), scalar_value(high))

    def result(self) -> tuple[tuple[str, ColumnStats], ...]:
        return tuple((name, ext.result()) for name, ext in self._columns)


def _parquet_value(stats: Any, which: str) -> tuple[Any, JSONValue]:
    """(key, JSON) of a row group's min or max; timestamps and times from the raw integer."""
    logical = stats.logical_type
    if logical.type in ("TIMESTAMP", "TIME"):
        raw = getattr(stats, f"{which}_raw")
        info = json.loads(logical.to_json())
        unit = _PARQUET_UNITS[info["timeUnit"]]
        if logical.type == "TIME":
            return raw, iso_time(raw, unit)
        return raw, iso_timestamp(raw, unit, bool(info["isAdjustedToUTC"]))
    value = getattr(stats, which)
    return value, json_safe(value)


def _add_parquet_metadata(md: Any, columns: dict[str, _Extremes], seen: set[str]) -> None:
    """Fold one file's row-group statistics into ``columns`` (keyed by leaf path)."""
    for i in range(md.num_columns):
        path = md.schema.column(i).path
        ext = columns.setdefault(path, _Extremes())
        seen.add(path)
        for rg in range(md.num_row_groups):
            group = md.row_group(rg)
            st = group.column(i).statistics
            if st is None:
                ext.add_nulls(None)
                ext.known = False
                continue
            ext.add_nulls(st.null_count if st.has_null_count else None)
            if st.has_min_max:
                if st.physical_type == "INT96":
                    ext.known = False  # legacy timestamps: their statistics are unreliable
                    continue
                try:
                    low = _parquet_value(st, "min")
                    high = _parquet_value(st, "max")
                except (ValueError, TypeError, KeyError, pa.ArrowException):
                    ext.known = False
                    continue
                ext.add(low, high)
            elif not (st.has_null_count and st.null_count >= group.num_rows):
                ext.known = False  # values present but no min/max recorded


# -- readers -------------------------------------------------------------------------


def _local_or(fs: FileSystem, path: str) -> Any:
    arrow_fs = fs.arrow_filesystem()
    return path if arrow_fs is None else arrow_fs.open_input_file(path)


def _parquet_file(fs: FileSystem, path: str, content: bool) -> TableInfo:
    with pq.ParquetFile(_local_or(fs, path)) as pf:
        schema = pf.schema_arrow
        columns: dict[str, _Extremes] = {}
        _add_parquet_metadata(pf.metadata, columns, set())
        digest = None
        if content:
            hasher = ContentHasher(schema)
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, use_threads=True):
                hasher.update(batch)
            digest = hasher.hexdigest()
        return _info(formats.PARQUET, pf.metadata.num_rows, schema, columns, digest)


def _info(
    fmt: str,
    rows: int,
    schema: pa.Schema,
    columns: dict[str, _Extremes],
    content_digest: str | None,
    partitioning: tuple[str, ...] = (),
) -> TableInfo:
    fields = schema_fields(schema)
    return TableInfo(
        format=fmt,
        rows=rows,
        columns=len(fields),
        schema=fields,
        schema_digest=schema_digest(fields),
        column_stats=tuple((name, ext.result()) for name, ext in columns.items()),
        content_digest=content_digest,
        partitioning=partitioning,
    )


def _parquet_dataset(
    fs: FileSystem, top: str, display: str, files: Sequence[Entry], content: bool
) -> TableInfo:
    columns: dict[str, _Extremes] = {}
    rows_by_path: dict[str, int] = {}
    seen_rows: dict[str, int] = {}
    first_leaves: set[str] = set()
    file_columns: set[str] = set()
    for entry in files:
        shown = f"{display.rstrip('/')}/{entry.rel}"
        try:
            md = pq.read_metadata(_local_or(fs, entry.path))
        except (pa.ArrowException, OSError) as exc:
            raise _invalid(formats.PARQUET, shown, exc) from exc
        seen: set[str] = set()
        _add_parquet_metadata(md, columns, seen)
        if not first_leaves:
            first_leaves = seen
            file_columns = set(md.schema.to_arrow_schema().names)
        for leaf in seen:
            seen_rows[leaf] = seen_rows.get(leaf, 0) + md.num_rows
        rows_by_path[entry.path] = md.num_rows
    total = sum(rows_by_path.values())
    # The dataset's schema is its first file's; a column missing from a file reads as nulls.
    columns = {leaf: ext for leaf, ext in columns.items() if leaf in first_leaves}
    for leaf, ext in columns.items():
        ext.add_nulls(total - seen_rows[leaf])
    try:
        dataset = ds.dataset(
            [e.path for e in files],
            format="parquet",
            filesystem=fs.arrow_filesystem(),
            partitioning=ds.HivePartitioning.discover(),
            partition_base_dir=top,
        )
    except (pa.ArrowException, OSError) as exc:
        raise _invalid(formats.PARQUET, display, exc) from exc
    fragments = sorted(dataset.get_fragments(), key=lambda f: f.path.encode())
    partition_names = tuple(f.name for f in dataset.schema if f.name not in file_columns)
    for name in partition_names:
        ext = columns.setdefault(name, _Extremes())
        for frag in fragments:
            keys = ds.get_partition_keys(frag.partition_expression)
            rows = rows_by_path.get(frag.path, 0)
            if keys.get(name) is None:
                ext.add_nulls(rows)
            elif rows:
                value = (keys[name], json_safe(keys[name]))
                ext.add(value, value)
    digest = None
    if content:
        hasher = ContentHasher(dataset.schema)
        for frag in fragments:
            scanner = ds.Scanner.from_fragment(
                frag, schema=dataset.schema, batch_size=BATCH_ROWS, use_threads=True
            )
            for batch in scanner.to_batches():
                hasher.update(batch)
        digest = hasher.hexdigest()
    return _info(formats.PARQUET, total, dataset.schema, columns, digest, partition_names)


@contextlib.contextmanager
def _ipc_batches(fs: FileSystem, path: str) -> Iterator[tuple[pa.Schema, Iterable[pa.RecordBatch]]]:
    arrow_fs = fs.arrow_filesystem()
    with pa.memory_map(path) if arrow_fs is None else arrow_fs.open_input_file(path) as source:
        try:
            reader = pa.ipc.open_file(source)
        except pa.ArrowInvalid:  # not the file format: try the stream format
            source.seek(0)
            stream = pa.ipc.open_stream(source)
            yield stream.schema, stream
            return
        yield reader.schema, (reader.get_batch(i) for i in range(reader.num_record_batches))


@contextlib.contextmanager
def _csv_batches(
    fs: FileSystem, path: str, column_types: dict[str, pa.DataType]
) -> Iterator[tuple[pa.Schema, Iterable[pa.RecordBatch]]]:
    arrow_fs = fs.arrow_filesystem()
    delimiter = "\t" if ".tsv" in path.lower().rsplit("/", 1)[-1] else ","
    if arrow_fs is None:
        stream = pa.input_stream(path, compression="detect")
    else:
        stream = arrow_fs.open_input_stream(path, compression="detect")
    with stream:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(column_types=column_types),
        )
        yield reader.schema, reader


_CSV_COLUMN = re.compile(r"In CSV column #(\d+)")


def _streamed(fs: FileSystem, fmt: str, path: str, content: bool) -> TableInfo:
    forced: dict[str, pa.DataType] = {}
    while True:
        opened = _csv_batches(fs, path, forced) if fmt == formats.CSV else _ipc_batches(fs, path)
        with opened as (schema, batches):
            stats = StreamStats(schema)
            hasher = ContentHasher(schema) if content else None
            try:
                for batch in batches:
                    stats.update(batch)
                    if hasher is not None:
                        hasher.update(batch)
            except pa.ArrowInvalid as exc:
                # A CSV column typed from the first block failed to convert later: read it
                # again as text (bounded retries: one per column).
                match = _CSV_COLUMN.search(str(exc)) if fmt == formats.CSV else None
                name = schema[int(match.group(1))].name if match else None
                if name is None or name in forced:
                    raise
                forced[name] = pa.string()
                continue
        fields = schema_fields(schema)
        return TableInfo(
            format=fmt,
            rows=stats.rows,
            columns=len(fields),
            schema=fields,
            schema_digest=schema_digest(fields),
            column_stats=stats.result(),
            content_digest=hasher.hexdigest() if hasher is not None else None,
        )


def describe(
    fs: FileSystem,
    fmt: str,
    path: str,
    display: str,
    *,
    files: Sequence[Entry] = (),
    content: bool = False,
) -> TableInfo:
    """The table description of ``path`` in format ``fmt`` (see ``formats``)."""
    try:
        if fmt == formats.PARQUET_DATASET:
            return _parquet_dataset(fs, path, display, files, content)
        if fmt == formats.PARQUET:
            return _parquet_file(fs, path, content)
        return _streamed(fs, fmt, path, content)
    except FingerprintError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _invalid(fmt, display, exc) from exc
