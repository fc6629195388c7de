"""Object-store URLs as stage deps and outs: recognising, normalizing and reading them.

Every store goes through ``pyarrow.fs`` (imported only when an object is read),
with credentials and endpoints from each store's standard environment (for S3
the ``AWS_*`` variables, including ``AWS_ENDPOINT_URL``, and profiles).
"""

from auditpipe.storage.urls import OBJECT_SCHEMES, is_url, normalize_url

__all__ = ["OBJECT_SCHEMES", "is_url", "normalize_url"]
