"""Data-validation gates: Great Expectations suites attached to data files.

Public API (importing this package does not import great_expectations; only
running or drafting a suite does):

* ``run_gate(data_path, suite_path, *, display_data, display_suite) -> Validation``
* ``run_stage_gates(root, pairs)`` / ``check_suites(root, pairs)``: a stage's
  ``validate`` pairs, after / before its command runs
* ``load_suite(path, display) -> Suite``, ``read_data(path, display) -> GateData``
* ``draft_suite(data_path, display, *, name) -> Draft``: a starter suite
* ``describe_failure``, ``gate_summary``: one-line renderings for terminals

Modules: ``runner`` (one gate end to end), ``suite`` (the suite file, checked),
``data`` (the data file, read and digested), ``results`` (GX results to the
canonical record), ``session`` (the GX boundary: lazy import, quiet, locked,
ephemeral context), ``draft`` (``suite init``).
"""

from auditpipe.gates.data import GateData, read_data
from auditpipe.gates.draft import Draft, draft_suite
from auditpipe.gates.results import describe_failure, describe_observed, gate_summary
from auditpipe.gates.runner import check_suites, run_gate, run_stage_gates, validate
from auditpipe.gates.suite import Expectation, Suite, load_suite

__all__ = [
    "Draft",
    "Expectation",
    "GateData",
    "Suite",
    "check_suites",
    "describe_failure",
    "describe_observed",
    "draft_suite",
    "gate_summary",
    "load_suite",
    "read_data",
    "run_gate",
    "run_stage_gates",
    "validate",
]
