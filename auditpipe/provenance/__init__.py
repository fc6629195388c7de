"""Provenance: walk from an artifact's digest back through signed runs to source data."""

from auditpipe.provenance.lineage import Lineage, RunNode, SourceNode, walk

__all__ = ["Lineage", "RunNode", "SourceNode", "walk"]
