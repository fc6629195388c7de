"""Lineage leaving the ledger: OpenLineage events (live and backfilled) and SLSA provenance."""
