"""Run a gate: one suite against one data file, through GX's own API.

``run_gate`` checks the suite, reads the data (digesting exactly the bytes it
validates), validates a whole-DataFrame batch of an ephemeral Data Context
with ``batch.validate(suite)``, and returns the canonical
:class:`~auditpipe.manifest.predicates.Validation`. A gate that runs and fails
is a result (``success`` false), never an exception; an exception means the
gate could not run (:class:`~auditpipe.errors.GateError`, exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditpipe.errors import GateError
from auditpipe.gates.data import GateData, read_data
from auditpipe.gates.results import Outcome, to_validation
from auditpipe.gates.session import dataframe_batch, ephemeral_context, gx_session
from auditpipe.gates.suite import Suite, load_suite
from auditpipe.manifest.predicates import Validation

# BASIC gives counts and example values without GX's per-value tallies and row
# indexes, which the record leaves out anyway.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 5}


def run_gate(
    data_path: Path, suite_path: Path, *, display_data: str, display_suite: str
) -> Validation:
    """Validate ``data_path`` against the suite at ``suite_path``.

    ``display_data`` and ``display_suite`` are how the files are named in the
    record and in errors (repo-relative paths in a pipeline). Raises
    :class:`~auditpipe.errors.SuiteError` or :class:`~auditpipe.errors.GateDataError`
    when the gate cannot run.
    """
    suite = load_suite(suite_path, display_suite)
    data = read_data(data_path, display_data)
    return validate(suite, data)


def validate(suite: Suite, data: GateData, context: Any = None) -> Validation:
    """Run a checked suite on data already read (in ``context``, a GX Data
    Context, when one is given; in a new ephemeral one otherwise)."""
    return to_validation(suite, data, evaluate(suite, data, context))


def evaluate(suite: Suite, data: GateData, context: Any = None) -> list[Outcome]:
    """Each expectation's outcome, as plain data, in GX's order."""
    with gx_session() as gx:
        try:
            if context is None:
                context = ephemeral_context(gx)
            with dataframe_batch(context, data.frame) as batch:
                result = batch.validate(suite.to_gx(), result_format=RESULT_FORMAT)
            outcomes = [_outcome(r) for r in result.results]
        except Exception as exc:
            # A GX internal failure on input it accepted; report, don't crash.
            from auditpipe.gates.results import clean_message

            raise GateError(
                f"Great Expectations could not validate the data: {clean_message(str(exc))}",
                path=suite.display,
                hint=f"data: {data.display}",
            ) from exc
    return outcomes


def _outcome(result: Any) -> Outcome:
    config = result.expectation_config
    index = int(str(config.id).replace("-", ""), 16)
    info = result.exception_info or {}
    error = None
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "exception")
    else:  # when a metric raised, GX keys the details by metric id
        for detail in info.values():
            if isinstance(detail, dict) and detail.get("raised_exception"):
                error = str(detail.get("exception_message") or "exception")
                break
    return Outcome(index, bool(result.success), dict(result.result or {}), error)


def check_suites(root: Path | str, pairs: Sequence[tuple[str, str]]) -> list[Suite]:
    """Check each suite of a stage's ``validate`` pairs (before its command runs)."""
    return [load_suite(Path(root, suite), suite) for _data, suite in pairs]


def run_stage_gates(root: Path | str, pairs: Sequence[tuple[str, str]]) -> list[Validation]:
    """Run a stage's gates, ``(data, suite)`` paths relative to ``root``, in order."""
    return [
        run_gate(Path(root, data), Path(root, suite), display_data=data, display_suite=suite)
        for data, suite in pairs
    ]


def run_checked_gates(
    root: Path | str, pairs: Sequence[tuple[str, str]], suites: Sequence[Suite], context: Any
) -> list[Validation]:
    """Run a stage's gates with suites already checked, in one shared GX ``context``
    (see :class:`~auditpipe.gates.loader.GxLoader`); ``suites`` match ``pairs``."""
    return [
        validate(suite, read_data(Path(root, data), data), context)
        for (data, _path), suite in zip(pairs, suites, strict=True)
    ]
