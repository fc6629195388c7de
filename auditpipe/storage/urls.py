"""Object-store URLs in a pipeline spec: which schemes, and their normal form."""

from __future__ import annotations

import posixpath
import re

# Schemes pyarrow.fs opens; only s3 is exercised by the test-suite (moto server).
OBJECT_SCHEMES = ("s3", "gs", "gcs", "abfs", "abfss", "hdfs")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)


def is_url(path: str) -> bool:
    """True for ``scheme://...`` with a scheme auditpipe reads through ``pyarrow.fs``."""
    match = _URL.fullmatch(path)
    return match is not None and match.group(1).lower() in OBJECT_SCHEMES


def normalize_url(url: str) -> str:
    """``s3://bucket/a/./b/`` -> ``s3://bucket/a/b``; raises ``ValueError`` saying why."""
    match = _URL.fullmatch(url)
    if match is None or match.group(1).lower() not in OBJECT_SCHEMES:
        raise ValueError(f"is not an object-store URL ({', '.join(OBJECT_SCHEMES)})")
    scheme, rest = match.group(1).lower(), match.group(2)
    if any(ord(char) < 32 for char in rest):
        raise ValueError("contains a control character")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError("names no bucket (write scheme://bucket/key)")
    if not key.strip("/"):
        return f"{scheme}://{bucket}"
    norm = posixpath.normpath("/" + key)
    if ".." in key.split("/"):
        raise ValueError("contains '..'; write the object's key as stored")
    return f"{scheme}://{bucket}{norm}"
