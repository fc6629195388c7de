"""``auditpipe doctor``: what this clone can see about the protections trust relies on."""

from auditpipe.doctor.checks import Finding, diagnose

__all__ = ["Finding", "diagnose"]
