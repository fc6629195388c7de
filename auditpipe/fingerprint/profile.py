"""Drift profiles of a table: deciles of numeric columns, top-k shares of categorical ones.

Opt-in (``$AUDITPIPE_PROFILE_MAX_BYTES``: tables up to that size get a profile
in the runs that read or write them), because Parquet metadata alone does not
give them and the data must be read. Bounded: 11 quantiles per numeric column
and the ``TOP_K`` most frequent values (with the row count) per categorical one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from auditpipe.errors import FingerprintError

PROFILE_ENV = "AUDITPIPE_PROFILE_MAX_BYTES"
QUANTILES = [i / 10 for i in range(11)]
TOP_K = 10


def profile_limit() -> int:
    """The largest table (bytes) to profile; 0 (the default) profiles nothing."""
    raw = os.environ.get(PROFILE_ENV, "0").strip()
    try:
        return max(0, int(raw))
    except ValueError:
        raise FingerprintError(
            f"${PROFILE_ENV} must be a number of bytes, not {raw!r}",
            hint=f"e.g. export {PROFILE_ENV}=100000000 to profile tables up to 100 MB",
        ) from None


def profile_table(path: Path, fmt: str) -> dict[str, Any]:
    """Deciles of numeric columns and top-k values of string/bool columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _read(path, fmt)
    rows = table.num_rows
    found: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            values = pc.drop_null(column)
            if len(values) == 0:
                continue
            quantiles = pc.quantile(values, q=QUANTILES, interpolation="linear")
            found[name] = {"quantiles": [float(q) for q in quantiles.to_pylist()]}
        elif (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)
        ):
            counts = pc.value_counts(column).to_pylist()
            counts.sort(key=lambda item: (-item["counts"], str(item["values"])))
            found[name] = {
                "rows": rows,
                "top": [[str(item["values"]), item["counts"]] for item in counts[:TOP_K]],
            }
    return found


def _read(path: Path, fmt: str) -> Any:
    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if fmt == "csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path)
        import pyarrow.feather as feather

        return feather.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise FingerprintError(f"cannot profile table: {exc}", path=str(path)) from exc
