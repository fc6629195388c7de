"""The content-addressed output cache: products of signed runs, restorable without a re-run.

Public API:

* ``OutputCache`` (``outputs``): store a fingerprinted output, restore a
  product into the working tree, set aside a file no signed run made
* ``Product``: what to restore (repo-relative path, kind, sha256)
* ``ObjectStore`` (``interface``): the seam a remote cache plugs into;
  ``LocalObjectStore`` (``local``) is the default, under ``.git/auditpipe/cache``
* ``open_cache(workspace)`` (``config``): the cache this repository is configured for
* ``collect_garbage`` (``gc``): which objects may go, and removing them

Objects are files named by the sha256 of their bytes, read-only, their digest
checked when they are stored; so a restore trusts the object without hashing it.
"""

from auditpipe.cache.config import CacheConfig, open_cache
from auditpipe.cache.interface import LINK_TYPES, LinkType, ObjectStore
from auditpipe.cache.local import LocalObjectStore
from auditpipe.cache.outputs import OutputCache, Product, SetAside

__all__ = [
    "LINK_TYPES",
    "CacheConfig",
    "LinkType",
    "LocalObjectStore",
    "ObjectStore",
    "OutputCache",
    "Product",
    "SetAside",
    "open_cache",
]
