"""Read the data file a gate checks into a pandas DataFrame, and digest it.

One read of the file gives both the sha256 that is recorded and the DataFrame
that is validated, so the digest names exactly the bytes Great Expectations
saw. Formats are decided by file name, as for fingerprints: Parquet, Arrow IPC /
Feather (file or stream format) and CSV/TSV (optionally compressed), read with
the pandas readers Great Expectations' own pandas assets use. Every failure is a
:class:`GateDataError` naming the file; pyarrow and pandas are imported lazily.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditpipe.errors import GateDataError
from auditpipe.fingerprint.formats import ARROW, CSV, PARQUET, file_format
from auditpipe.gates.session import untyped

_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}
_NAMES = {PARQUET: "Parquet", ARROW: "Arrow/Feather", CSV: "CSV"}


@dataclass(frozen=True)
class GateData:
    """A data file as a gate sees it: its digest, format and contents."""

    display: str
    sha256: str
    format: str
    frame: Any = field(repr=False, compare=False)
    """A ``pandas.DataFrame``."""

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.frame.columns)


def read_data(path: Path, display: str) -> GateData:
    """Read ``path`` (shown to users as ``display``) for validation."""
    fmt = file_format(path.name)
    if path.is_dir():
        raise GateDataError(
            "is a directory; a gate checks one data file",
            path=display,
            hint="name a Parquet, CSV or Arrow/Feather file inside it",
        )
    if fmt is None:
        raise GateDataError(
            f"cannot tell the table format of {path.name!r} from its name",
            path=display,
            hint="gates read .parquet, .csv, .tsv (optionally .gz/.bz2/.zst) and .feather/.arrow",
        )
    raw = _read_bytes(path, display)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        frame = _parse(raw, fmt, path.name.lower())
    except Exception as exc:
        # pyarrow, pandas and the codecs raise many unrelated types for a corrupt
        # file; any of them means the same thing to the user.
        raise GateDataError(
            f"cannot read the file as {_NAMES[fmt]}: {_first_line(exc)}",
            path=display,
            hint=f"the file is corrupt or is not {_NAMES[fmt]}; re-create it",
        ) from exc
    return GateData(display=display, sha256=digest, format=fmt, frame=frame)


def _read_bytes(path: Path, display: str) -> Any:
    """The file's bytes as a buffer (memory-mapped when it has any)."""
    pa = untyped("pyarrow")
    try:
        if path.stat().st_size == 0:
            return pa.py_buffer(b"")
        with pa.memory_map(str(path), "r") as source:
            return source.read_buffer()
    except FileNotFoundError as exc:
        raise GateDataError(
            "data file not found",
            path=display,
            hint="run the stage that writes it, or check the path",
        ) from exc
    except OSError as exc:
        raise GateDataError(f"cannot read data file: {exc.strerror or exc}", path=display) from exc


def _parse(raw: Any, fmt: str, name: str) -> Any:
    pd, pa = untyped("pandas"), untyped("pyarrow")
    if fmt == PARQUET:
        return pd.read_parquet(pa.BufferReader(raw))
    if fmt == ARROW:
        try:
            table = pa.ipc.open_file(raw).read_all()
        except pa.ArrowInvalid:
            table = pa.ipc.open_stream(raw).read_all()  # ``.arrows``: the stream format
        return table.to_pandas()
    stream: Any = pa.BufferReader(raw)
    for suffix, codec in _CODECS.items():
        if name.endswith(suffix):
            stream = pa.CompressedInputStream(stream, codec)
            name = name[: -len(suffix)]
    return pd.read_csv(stream, sep="\t" if name.endswith(".tsv") else ",")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
