"""Garbage collection of the output cache: what may go, and removing it.

Kept: every object a kept product needs (see ``auditpipe.cache.runs``) and,
unless asked otherwise, what was set aside (files no signed run made, moved in
instead of being deleted). Everything else is garbage. The plan is computed
first and shown; removing is a separate step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from auditpipe.cache.outputs import OutputCache, Product


@dataclass(frozen=True)
class GcPlan:
    keep: frozenset[str]
    remove: tuple[str, ...]
    remove_dirs: tuple[Path, ...]
    """Directory listings (``dirs/<digest>``) whose directory is not kept."""
    size: int
    """Bytes the removal frees."""


def plan(cache: OutputCache, kept: Sequence[Product], *, keep_set_aside: bool = True) -> GcPlan:
    """Which objects are garbage, given the products to keep."""
    products = list(kept)
    if keep_set_aside:
        products += [Product(r.path, r.kind, r.sha256) for r in cache.set_aside_records()]
    keep: set[str] = set()
    kept_dirs: set[str] = set()
    for product in products:
        keep.update(cache.objects(product))
        if product.kind == "directory":
            kept_dirs.add(product.sha256)
    remove = tuple(oid for oid in cache.store.ids() if oid not in keep)
    size = 0
    for oid in remove:
        with contextlib.suppress(OSError):
            size += Path(cache.store.where(oid)).stat().st_size
    dirs_root = cache.index_dir / "dirs"
    remove_dirs = tuple(
        index
        for index in (sorted(dirs_root.glob("*/*")) if dirs_root.is_dir() else [])
        if index.parent.name + index.name not in kept_dirs
    )
    return GcPlan(frozenset(keep), remove, remove_dirs, size)


def apply(cache: OutputCache, found: GcPlan) -> int:
    """Remove what ``found`` names; returns the bytes freed."""
    freed = 0
    for index in found.remove_dirs:
        with contextlib.suppress(OSError):
            index.unlink()
    for oid in found.remove:
        freed += cache.store.remove(oid)
    return freed
