"""Object-store URLs as stage deps and outs: recognising, normalizing and reading them.

``s3://`` is read through boto3 when installed (``s3``, ``s3objects``,
``metacache``: ETag and version id, one listing per prefix, a metadata cache);
every other store, and S3 without boto3, through ``pyarrow.fs`` (``objects``).
Both are imported only when an object is read, with credentials and endpoints
from each store's standard environment (for S3 the ``AWS_*`` variables,
including ``AWS_ENDPOINT_URL``, and profiles).
"""

import os
from collections.abc import Sequence
from pathlib import Path

from auditpipe.storage.urls import OBJECT_SCHEMES, is_url, normalize_url


def url_deps_state(deps: Sequence[str]) -> dict[str, object]:
    """What each object-store dep among ``deps`` names now (``objects.snapshot``);
    empty, and nothing imported, when there is none."""
    urls = [d for d in deps if is_url(d)]
    if not urls:
        return {}
    from auditpipe.storage.objects import snapshot

    return snapshot(urls)


def output_exists(root: str | Path, output: str) -> bool:
    """Whether a stage output is there: an object or prefix for a URL, else a path
    under ``root`` (a dangling symlink counts)."""
    if is_url(output):
        from auditpipe.storage.objects import exists

        return exists(output)
    return os.path.lexists(os.path.join(root, output))


__all__ = ["OBJECT_SCHEMES", "is_url", "normalize_url", "output_exists", "url_deps_state"]
