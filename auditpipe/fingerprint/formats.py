"""Which paths are tables, decided from names alone (so plain files never import pyarrow).

Owns the file-name rules: Parquet (``.parquet``, ``.parq``, ``.pq``), Arrow
IPC / Feather (``.arrow``, ``.feather``, ``.ipc``, ``.arrows``), CSV (``.csv``
and ``.tsv``, optionally ``.gz``/``.bz2``/``.zst``/``.lz4`` compressed), and
Parquet datasets: a directory whose data files (those with no path component
starting with ``.`` or ``_``, the names pyarrow ignores) are all Parquet files,
hive partition directories (``key=value``) included.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditpipe.fingerprint.tree import Entry

PARQUET = "parquet"
ARROW = "arrow"
CSV = "csv"
PARQUET_DATASET = "parquet-dataset"

_SUFFIXES = {
    ".parquet": PARQUET,
    ".parq": PARQUET,
    ".pq": PARQUET,
    ".arrow": ARROW,
    ".feather": ARROW,
    ".ipc": ARROW,
    ".arrows": ARROW,
    ".csv": CSV,
    ".tsv": CSV,
}
_COMPRESSIONS = (".gz", ".bz2", ".zst", ".lz4")


def file_format(name: str) -> str | None:
    """The table format a file name announces, or ``None`` for opaque bytes."""
    lower = name.lower()
    for ext in _COMPRESSIONS:
        if lower.endswith(ext):
            stem = lower[: -len(ext)]
            return CSV if stem.endswith((".csv", ".tsv")) else None
    dot = lower.rfind(".")
    return _SUFFIXES.get(lower[dot:]) if dot > 0 else None


def is_data_entry(rel: str) -> bool:
    """False for paths pyarrow's dataset discovery ignores (``_SUCCESS``, ``.crc``...)."""
    return not any(part.startswith((".", "_")) for part in rel.split("/"))


def dataset_files(entries: Sequence[Entry]) -> list[Entry] | None:
    """The Parquet files of a directory that is a Parquet dataset, else ``None``."""
    data = []
    for entry in entries:
        if is_data_entry(entry.rel):
            if entry.target is not None or file_format(entry.rel) != PARQUET:
                return None
            data.append(entry)
    return data or None
