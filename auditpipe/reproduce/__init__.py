"""Re-perform a signed stage run and say whether it gives the same products.

``reproduce(...)`` (``runner``) takes a trusted, clean, successful run, builds
an isolated checkout of its commit from git objects (``checkout``), restores its
product inputs from the output cache, checks its source data, runs the command
the pipeline file at that commit gives (checked against the signed one) and
compares every product's digest, the metrics and the environment.
"""

from auditpipe.reproduce.runner import Outcome, Refused, reproduce

__all__ = ["Outcome", "Refused", "reproduce"]
