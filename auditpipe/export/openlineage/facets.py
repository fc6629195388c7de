"""The OpenLineage facets auditpipe emits, each as the JSON its spec schema describes.

Tables get ``schema`` and row counts from our fingerprint profiles; column
statistics (min/max are raw data values) only when asked for; gates become
``dataQualityAssertions``; the git commit a ``sourceCodeLocation``; and the
custom ``auditpipe`` run facet points at the signed ledger entry.
"""

from __future__ import annotations

from typing import Any

from auditpipe import __version__
from auditpipe.manifest.predicates import Material, Validation

PRODUCER = f"https://auditpipe.dev/producer/{__version__}"
_SPEC = "https://openlineage.io/spec"
SCHEMA_URLS = {
    "schema": f"{_SPEC}/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "version": f"{_SPEC}/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet",
    "dataQualityMetrics": f"{_SPEC}/facets/1-0-3/DataQualityMetricsInputDatasetFacet.json"
    "#/$defs/DataQualityMetricsInputDatasetFacet",
    "outputStatistics": f"{_SPEC}/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet",
    "dataQualityAssertions": f"{_SPEC}/facets/1-1-0/DataQualityAssertionsDatasetFacet.json"
    "#/$defs/DataQualityAssertionsDatasetFacet",
    "sourceCodeLocation": f"{_SPEC}/facets/1-1-0/SourceCodeLocationJobFacet.json"
    "#/$defs/SourceCodeLocationJobFacet",
    "jobType": f"{_SPEC}/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "errorMessage": f"{_SPEC}/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "processing_engine": f"{_SPEC}/facets/1-1-1/ProcessingEngineRunFacet.json"
    "#/$defs/ProcessingEngineRunFacet",
    "auditpipe": "https://auditpipe.dev/spec/facets/1-0-0/AuditpipeRunFacet.json"
    "#/$defs/AuditpipeRunFacet",
}


def facet(key: str, **fields: Any) -> dict[str, Any]:
    """A facet with its ``_producer`` and ``_schemaURL``; ``None`` fields are left out."""
    body = {k: v for k, v in fields.items() if v is not None}
    return {"_producer": PRODUCER, "_schemaURL": SCHEMA_URLS[key], **body}


def dataset_facets(material: Material) -> dict[str, Any]:
    """``schema`` (tables) and ``version`` (the sha256 the run saw)."""
    out: dict[str, Any] = {}
    table = material.table or {}
    if table.get("schema"):
        fields = [
            {"name": str(f["name"]), "type": str(f["type"]), "ordinal_position": i}
            for i, f in enumerate(table["schema"], start=1)
        ]
        out["schema"] = facet("schema", fields=fields)
    out["version"] = facet("version", datasetVersion=f"sha256:{material.digest.sha256}")
    return out


def input_facets(material: Material, column_stats: bool) -> dict[str, Any]:
    """``dataQualityMetrics``: rows, bytes, files, and column statistics when enabled."""
    table = material.table or {}
    columns: dict[str, Any] = {}
    if column_stats:
        for name, stats in (table.get("columnStats") or {}).items():
            columns[str(name)] = _column(stats)
    return {
        "dataQualityMetrics": facet(
            "dataQualityMetrics",
            rowCount=table.get("rows"),
            bytes=material.size,
            fileCount=material.files,
            columnMetrics=columns,
        )
    }


def output_facets(material: Material) -> dict[str, Any]:
    table = material.table or {}
    return {
        "outputStatistics": facet(
            "outputStatistics",
            rowCount=table.get("rows"),
            size=material.size,
            fileCount=material.files,
        )
    }


def assertions(validations: list[Validation]) -> dict[str, Any] | None:
    """Each gate as one suite-level assertion plus one per failed expectation."""
    if not validations:
        return None
    found: list[dict[str, Any]] = []
    for v in validations:
        evaluated = v.statistics.get("evaluated_expectations")
        met = v.statistics.get("successful_expectations")
        summary = f"{met} of {evaluated} expectations met" if evaluated is not None else None
        found.append(
            _drop_none(
                assertion="great_expectations_suite",
                name=v.suite,
                success=v.success,
                severity="error",
                description=summary,
                content=f"{v.suite_path} sha256:{v.suite_digest.sha256}",
            )
        )
        for failed in v.failed_expectations:
            found.append(
                _drop_none(
                    assertion=failed.type,
                    name=v.suite,
                    success=False,
                    severity="error",
                    column=failed.column,
                )
            )
    return facet("dataQualityAssertions", assertions=found)


def _column(stats: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(stats.get("nullCount"), int):
        out["nullCount"] = stats["nullCount"]
    for bound in ("min", "max"):
        value = stats.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[bound] = value
    return out


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
