"""What a gate records: a canonical, deterministic subset of GX's results.

Great Expectations' own result JSON carries load timestamps, a pandas hash of
the batch, run ids and, for expectations that raised, tracebacks with absolute
paths; none of that is reproducible or fit for a signed manifest. A
:class:`~auditpipe.manifest.predicates.Validation` keeps, per failed
expectation in suite order: its ``type``, ``column``, the ``kwargs`` as the
suite file states them, and what was ``observed`` — GX's ``observed_value``
and ``details``, or the unexpected-value counts with at most
:data:`PARTIAL_LIMIT` example values, or ``missing_columns`` when the data
lacks a column the expectation names, or a one-line ``error`` with paths
removed. Numbers are JSON-safe (NaN -> ``null``, integers beyond ±2^53 ->
strings); ``statistics`` are counts and a success percent rounded to 2 places.
Running the same suite on the same bytes gives byte-identical canonical JSON.

This module is pure data in, data out: no GX import, so it is cheap to test
and to use for rendering (``describe_failure``, ``gate_summary``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditpipe.gates.data import GateData
from auditpipe.gates.suite import Expectation, Suite
from auditpipe.manifest.predicates import Digest, FailedExpectation, Validation

PARTIAL_LIMIT = 5
LIST_LIMIT = 20
TEXT_LIMIT = 200
MAX_SAFE_INT = 2**53 - 1
# Result fields worth recording, in GX's own vocabulary.
OBSERVED_KEYS = (
    "observed_value",
    "details",
    "element_count",
    "missing_count",
    "unexpected_count",
    "unexpected_percent",
    "partial_unexpected_list",
)
COLUMN_KWARGS = ("column", "column_A", "column_B")
_ABS_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/][^\s'\"]*[\\/][^\s'\"]*")


@dataclass(frozen=True)
class Outcome:
    """One expectation's result, reduced to plain data at the GX boundary."""

    index: int
    success: bool
    result: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


def to_validation(suite: Suite, data: GateData, outcomes: Sequence[Outcome]) -> Validation:
    """The recorded form of one gate run."""
    by_index = {o.index: o for o in outcomes}
    evaluated = len(suite.expectations)
    passed = sum(1 for e in suite.expectations if _passed(by_index.get(e.index)))
    failed = [
        _failure(e, by_index.get(e.index), data.columns)
        for e in suite.expectations
        if not _passed(by_index.get(e.index))
    ]
    return Validation(
        suite=suite.name,
        suite_path=suite.display,
        suite_digest=Digest(sha256=suite.sha256),
        data=data.display,
        data_digest=Digest(sha256=data.sha256),
        success=not failed,
        statistics={
            "evaluatedExpectations": evaluated,
            "successfulExpectations": passed,
            "unsuccessfulExpectations": evaluated - passed,
            "successPercent": round(100.0 * passed / evaluated, 2) if evaluated else None,
        },
        failed_expectations=failed,
    )


def _passed(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.success and outcome.error is None


def _failure(
    expectation: Expectation, outcome: Outcome | None, columns: Sequence[str]
) -> FailedExpectation:
    kwargs = {k: json_safe(v, limit=None) for k, v in sorted(expectation.kwargs.items())}
    column = kwargs.get("column")
    return FailedExpectation(
        type=expectation.type,
        column=column if isinstance(column, str) else None,
        kwargs=kwargs,
        observed=_observed(expectation, outcome, columns),
    )


def _observed(expectation: Expectation, outcome: Outcome | None, columns: Sequence[str]) -> Any:
    named = [expectation.kwargs.get(k) for k in COLUMN_KWARGS]
    named += list(expectation.kwargs.get("column_list") or [])
    missing = sorted({c for c in named if isinstance(c, str) and c not in columns})
    if outcome is None:
        return {"error": "Great Expectations returned no result for this expectation"}
    if missing and (outcome.error is not None or not outcome.result):
        return {"missing_columns": missing}
    if outcome.error is not None:
        return {"error": clean_message(outcome.error)}
    observed: dict[str, Any] = {}
    for key in OBSERVED_KEYS:
        if key not in outcome.result or outcome.result[key] is None:
            continue
        value = outcome.result[key]
        if key == "partial_unexpected_list":
            observed[key] = json_safe(list(value)[:PARTIAL_LIMIT])
        elif key == "unexpected_percent" and isinstance(value, int | float):
            observed[key] = json_safe(round(float(value), 4))
        else:
            observed[key] = json_safe(value)
    if not observed and expectation.type == "expect_column_to_exist":
        column = expectation.kwargs.get("column")
        if isinstance(column, str) and column in columns:
            observed["column_index"] = list(columns).index(column)
    return observed or None


def clean_message(text: str) -> str:
    """First line of an error message, absolute paths removed, length capped."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    first = lines[0] if lines else "error"
    first = _ABS_PATH.sub("<path>", first)
    first = re.sub(r"^Error:\s*", "", first)
    return first if len(first) <= TEXT_LIMIT else first[: TEXT_LIMIT - 3] + "..."


def json_safe(value: Any, *, limit: int | None = LIST_LIMIT) -> Any:
    """``value`` as JSON that RFC 8785 can canonicalize, deterministically.

    numpy/pandas scalars become Python numbers, NaN/NaT/NA become ``null``,
    integers beyond ±2^53 become strings, dates become ISO 8601, sets are
    sorted; lists beyond ``limit`` items and strings beyond 200 characters are
    cut (with ``"..."`` as the last item / suffix).
    """
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__.startswith("numpy"):
        try:
            return json_safe(item(), limit=limit)
        except (ValueError, TypeError):  # arrays of more than one element
            pass
    if isinstance(value, int):
        return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value if len(value) <= TEXT_LIMIT else value[: TEXT_LIMIT - 3] + "..."
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return json_safe(bytes(value).hex(), limit=limit)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, limit=limit) for k, v in sorted(value.items(), key=_key)}
    if isinstance(value, set | frozenset):
        value = sorted(value, key=repr)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        value = tolist()
    if isinstance(value, list | tuple):
        items = [json_safe(v, limit=limit) for v in value]
        if limit is not None and len(items) > limit:
            items = [*items[:limit], "..."]
        return items
    return json_safe(str(value), limit=limit)


def _key(pair: tuple[Any, Any]) -> str:
    return str(pair[0])


def describe_failure(failure: FailedExpectation) -> str:
    """One line for a terminal: what was expected, and what was seen."""
    args = ", ".join(
        f"{k}={_short(v)}" for k, v in failure.kwargs.items() if k not in ("column", "batch_id")
    )
    head = failure.type + (f" {failure.column}" if failure.column else "")
    head += f" ({args})" if args else ""
    return f"{head}: {describe_observed(failure.observed)}"


def describe_observed(observed: Any) -> str:
    """The observed part of :func:`describe_failure`."""
    if not isinstance(observed, Mapping):
        return "no observed value" if observed is None else f"observed {_short(observed)}"
    if "missing_columns" in observed:
        return "column not in the data: " + ", ".join(observed["missing_columns"])
    if "error" in observed:
        return f"could not be evaluated: {observed['error']}"
    parts = []
    if "observed_value" in observed:
        parts.append(f"observed {_short(observed['observed_value'])}")
    if "unexpected_count" in observed:
        count = f"{observed['unexpected_count']} unexpected"
        if "element_count" in observed:
            count += f" of {observed['element_count']}"
        if "unexpected_percent" in observed:
            count += f" ({observed['unexpected_percent']}%)"
        parts.append(count)
    if observed.get("partial_unexpected_list"):
        parts.append("e.g. " + ", ".join(_short(v) for v in observed["partial_unexpected_list"]))
    if "details" in observed:
        parts.append(f"details {_short(observed['details'])}")
    if "column_index" in observed:
        parts.append(f"column at index {observed['column_index']}")
    return "; ".join(parts) or "no observed value"


def gate_summary(validation: Validation) -> str:
    """One line per gate for run summaries: the data, the suite, what failed."""
    total = validation.statistics.get("evaluatedExpectations", 0)
    if validation.success:
        return f"{validation.data} passed {validation.suite_path} ({total} expectations)"
    failed = validation.failed_expectations
    names = list(dict.fromkeys(f.column or f.type for f in failed))
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return (
        f"{validation.data}: {len(failed)} of {total} expectations of "
        f"{validation.suite_path} failed ({shown})"
    )


def _short(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
