"""``auditpipe suite init``: draft a starter suite from a data file.

The draft is read off the data by :mod:`auditpipe.gates.profile` (pyarrow
compute over the DataFrame the gate will validate), not GX's profilers: the row
count is at least one, and per column, in file order, the column exists, has
its current type, has no nulls (when it has none now), lies in the observed
range (numeric columns) and takes one of the observed values (low-cardinality
string, categorical and integer columns). Great Expectations loads on a
background thread (:class:`~auditpipe.gates.loader.GxLoader`) while the file
is read and profiled. The suite is written by GX itself
(``ExpectationSuite.to_json_dict``), checked by the same loader gates use, and
validated once on the data it was drafted from; an expectation GX does not
confirm on that data (a dtype GX names differently, say) is left out and
reported, so a fresh draft always passes on its own data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditpipe.errors import ConfigError, GateDataError
from auditpipe.gates.data import GateData, read_data
from auditpipe.gates.loader import GxLoader
from auditpipe.gates.profile import propose
from auditpipe.gates.results import describe_failure, to_validation
from auditpipe.gates.runner import evaluate
from auditpipe.gates.session import gx_session, untyped
from auditpipe.gates.suite import Suite, suite_from_bytes


@dataclass(frozen=True)
class Draft:
    """A drafted suite: its JSON document and what was left out."""

    document: dict[str, Any]
    dropped: tuple[str, ...]
    rows: int
    columns: int

    @property
    def expectations(self) -> int:
        return len(self.document.get("expectations", []))

    def to_json(self) -> str:
        """The suite file's text: GX's JSON, indented, newline-terminated."""
        return json.dumps(self.document, indent=2, ensure_ascii=False) + "\n"


def draft_suite(data_path: Path, display: str, *, name: str) -> Draft:
    """Draft a suite named ``name`` that holds for the data at ``data_path``."""
    gx = GxLoader(data_path.parent)
    gx.start()  # the import runs while the data is read and profiled
    data = read_data(data_path, display)
    proposals = propose(data.frame)
    if not proposals:
        raise GateDataError("the data has no columns; there is nothing to draft", path=display)
    context = gx.context()
    document = _gx_document(name, proposals, data)
    suite = _as_suite(document, name)
    outcomes = evaluate(suite, data, context)
    by_index = {o.index: o for o in outcomes}
    bad = {e.index for e in suite.expectations if not _confirmed(by_index.get(e.index))}
    failed = to_validation(suite, data, outcomes).failed_expectations
    if bad:
        document = {
            **document,
            "expectations": [e for i, e in enumerate(document["expectations"]) if i not in bad],
        }
    dropped = tuple(describe_failure(f) for f in failed)
    return Draft(document, dropped, rows=len(data.frame), columns=len(data.columns))


def _confirmed(outcome: Any) -> bool:
    return outcome is not None and outcome.success and outcome.error is None


def _gx_document(name: str, proposals: list[tuple[str, dict[str, Any]]], data: GateData) -> Any:
    with gx_session() as gx:
        config = untyped("great_expectations.expectations.expectation_configuration")
        make_config = config.ExpectationConfiguration
        suite = gx.ExpectationSuite(
            name=name,
            expectations=[make_config(type=t, kwargs=k) for t, k in proposals],
            meta={"auditpipe": {"drafted_from": data.display, "data_sha256": data.sha256}},
        )
        return suite.to_json_dict()


def _as_suite(document: dict[str, Any], name: str) -> Suite:
    return suite_from_bytes(json.dumps(document).encode(), f"<draft {name}>")


def write_draft(draft: Draft, path: Path) -> None:
    """Write the suite file (the caller decides about overwriting)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(draft.to_json(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the suite: {exc.strerror or exc}", path=path) from exc
