"""The content digest: a digest of a table's decoded values, independent of how it is encoded.

Owns ``ContentHasher``. Feeding it a table's record batches in row order (any
batch sizes) yields the same digest whatever the file's codec, row-group or
page size, dictionary or page settings, and whether strings are ``string``,
``large_string`` or ``string_view`` — so it answers "is this the same data?"
after a re-write, which the byte digest cannot. Memory is bounded by one batch.

Definition (version ``auditpipe-content-v1``). Types are normalised first:
dictionaries are decoded, extension types reduced to their storage,
``large_``/``_view`` string, binary and list variants mapped to ``string``,
``binary``, ``list<...>``, and list child names dropped. For each column, three
SHA-256 streams are fed row by row:

* ``validity``: one byte per row, ``01`` valid, ``00`` null;
* ``values``: fixed-width types (integers, floats, booleans as one byte,
  dates, times, timestamps, durations, decimals, fixed-size binary) as their
  little-endian Arrow bytes, with every null slot written as zeros; for
  strings and binary, each value's length as 8 little-endian bytes (0 for
  null); any other type (lists, structs, maps) as one line of canonical JSON
  per value;
* ``data``: for strings and binary, the value bytes concatenated (nothing for
  nulls); empty otherwise.

The content digest is the SHA-256 of the compact, key-sorted JSON
``{"algorithm": "auditpipe-content-v1", "rows": N, "columns": [{"name",
"type", "validity", "values", "data"}...]}`` (the three hex digests per
column, in schema order).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from auditpipe.fingerprint.engine import CONTENT_ALGORITHM
from auditpipe.fingerprint.model import json_safe

ALGORITHM = CONTENT_ALGORITHM


def normalized_type(t: pa.DataType) -> str:
    """The type name content digests use: encodings and offset widths erased."""
    if isinstance(t, pa.ExtensionType):
        return normalized_type(t.storage_type)
    if pa.types.is_dictionary(t):
        return normalized_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_fixed_size_list(t):
        return f"fixed_size_list<{normalized_type(t.value_type)}>[{t.list_size}]"
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    ):
        return f"list<{normalized_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{normalized_type(t.key_type)}, {normalized_type(t.item_type)}>"
    if pa.types.is_struct(t):
        inner = ", ".join(f"{f.name}: {normalized_type(f.type)}" for f in t)
        return f"struct<{inner}>"
    return str(t)


def _is_variable_binary(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
    )


def _is_fixed_width(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_temporal(t)
        or pa.types.is_decimal(t)
        or pa.types.is_fixed_size_binary(t)
    )


class _Column:
    def __init__(self, name: str, type_: pa.DataType) -> None:
        self.name = name
        self.type = normalized_type(type_)
        self.validity = hashlib.sha256()
        self.values = hashlib.sha256()
        self.data = hashlib.sha256()

    def update(self, arr: pa.Array) -> None:
        n = len(arr)
        if n == 0:
            return
        while isinstance(arr.type, pa.ExtensionType) or pa.types.is_dictionary(arr.type):
            arr = arr.storage if isinstance(arr.type, pa.ExtensionType) else arr.dictionary_decode()
        nulls = arr.null_count
        if nulls == 0:
            self.validity.update(b"\x01" * n)
        else:
            self.validity.update(pc.is_valid(arr).cast(pa.uint8()).buffers()[1].to_pybytes()[:n])
        t = arr.type
        if pa.types.is_null(t):
            return
        if pa.types.is_boolean(t):
            filled = pc.fill_null(arr, False) if nulls else arr
            self.values.update(filled.cast(pa.uint8()).buffers()[1].to_pybytes()[:n])
        elif _is_fixed_width(t):
            self._fixed(arr, t.bit_width // 8, nulls)
        elif _is_variable_binary(t):
            self._variable(arr, nulls)
        else:
            self._generic(arr)

    def _fixed(self, arr: pa.Array, width: int, nulls: int) -> None:
        view = arr.view(pa.binary(width))
        if nulls:
            view = pc.fill_null(view, pa.scalar(bytes(width), pa.binary(width)))
        buf = view.buffers()[1]
        self.values.update(memoryview(buf)[view.offset * width : (view.offset + len(view)) * width])

    def _variable(self, arr: pa.Array, nulls: int) -> None:
        wide = arr.cast(pa.large_binary())
        if nulls:
            wide = pc.fill_null(wide, pa.scalar(b"", pa.large_binary()))
        lengths = pc.binary_length(wide).cast(pa.int64())
        self.values.update(
            memoryview(lengths.buffers()[1])[
                lengths.offset * 8 : (lengths.offset + len(lengths)) * 8
            ]
        )
        offsets = memoryview(wide.buffers()[1]).cast("q")
        start, end = offsets[wide.offset], offsets[wide.offset + len(wide)]
        self.data.update(memoryview(wide.buffers()[2])[start:end] if end > start else b"")

    def _generic(self, arr: pa.Array) -> None:
        for value in arr.to_pylist():
            line = json.dumps(
                json_safe(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            self.values.update(line.encode("utf-8") + b"\n")

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "validity": self.validity.hexdigest(),
            "values": self.values.hexdigest(),
            "data": self.data.hexdigest(),
        }


class ContentHasher:
    """Feed record batches of one schema in row order; read ``hexdigest()`` at the end."""

    def __init__(self, schema: pa.Schema) -> None:
        self._columns = [_Column(f.name, f.type) for f in schema]
        self.rows = 0

    def update(self, batch: pa.RecordBatch) -> None:
        for column, arr in zip(self._columns, batch.columns, strict=True):
            column.update(arr)
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        doc = {
            "algorithm": ALGORITHM,
            "rows": self.rows,
            "columns": [c.summary() for c in self._columns],
        }
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
