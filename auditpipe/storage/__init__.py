"""Object-store URLs as stage deps and outs: recognising, normalizing and reading them.

``s3://`` is read through boto3 when installed (``s3``, ``s3objects``,
``metacache``: ETag and version id, one listing per prefix, a metadata cache);
every other store, and S3 without boto3, through ``pyarrow.fs`` (``objects``).
Both are imported only when an object is read, with credentials and endpoints
from each store's standard environment (for S3 the ``AWS_*`` variables,
including ``AWS_ENDPOINT_URL``, and profiles).
"""

from auditpipe.storage.urls import OBJECT_SCHEMES, is_url, normalize_url

__all__ = ["OBJECT_SCHEMES", "is_url", "normalize_url"]
