"""A stage's outputs around a run: cleared before, kept in the cache after, restored instead.

DVC's semantics: outputs are removed before the command runs (unless
``persist: true``), so the signed products are exactly what the command wrote.
Nothing leaves the working tree unrecorded: an output whose bytes no
successful signed run produced (a hand-made file, a failed run's leftovers) is
moved into the cache and named in a notice; an output a signed run made is
deleted only once the cache holds it (or the stage opted out with ``cache: false``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditpipe.cache import OutputCache, Product
from auditpipe.cache.runs import cacheable, products_of
from auditpipe.errors import CacheError
from auditpipe.fingerprint import Fingerprint
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.pipeline.stage import StageSpec

if TYPE_CHECKING:
    from auditpipe.pipeline.remote_outputs import RemoteOutputs


def _unprotect(path: Path) -> None:
    """A persisted file restored as a hard link to a read-only cache object
    becomes a private writable copy, so the command can append to it."""
    if path.is_file() and not path.is_symlink() and path.stat().st_nlink > 1:
        copy = path.with_name(path.name + ".auditpipe-unprotect")
        shutil.copyfile(path, copy)
        os.replace(copy, path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@dataclass
class StageOutputs:
    """Clears, keeps and restores the outputs of stages in one working tree."""

    root: Path
    ledger: Ledger
    cache: OutputCache
    remote: RemoteOutputs | None = None
    """Where products missing from the local cache may be fetched (trusted runs only)."""

    def _signed(self, sha256: str) -> bool:
        return bool(self.ledger.lookup_subject(sha256))

    def clear_one(self, stage: StageSpec, path: str, fp: Fingerprint) -> str | None:
        """Remove one output; returns a notice when its bytes went to the cache."""
        product = Product(path, fp.kind, fp.sha256)
        if not self._signed(fp.sha256):
            moved = self.cache.set_aside(self.root, product)
            return (
                f"{path} was not made by a successful signed run; moved it to the cache "
                f"(sha256 {fp.sha256[:12]}): {moved.where}"
            )
        if stage.options(path).cache and not self.cache.has(product):
            self.cache.keep(self.root, product, move=True)
        else:
            _remove(self.root / path)
        return None

    def clear(self, stage: StageSpec, outputs: Mapping[str, Fingerprint]) -> list[str]:
        """Clear every output that is not ``persist``; returns notices. Objects in a
        store (URL outputs) are left for the command to overwrite: they are not in the
        working tree, and the caches never hold them."""
        notices = []
        for path in cacheable(stage.all_outputs):
            if stage.options(path).persist:
                _unprotect(self.root / path)
                continue
            fp = outputs.get(path)
            if fp is not None:
                notice = self.clear_one(stage, path, fp)
                if notice:
                    notices.append(notice)
            elif os.path.lexists(self.root / path):
                _remove(self.root / path)  # appeared after fingerprinting: nothing signed it
        return notices

    def restorable(self, stage: StageSpec, entry: Entry) -> bool:
        """Whether the cache holds every product of ``entry`` that the stage declares
        (URL outputs aside: the planner offers a run only while its objects are intact)."""
        local = cacheable(stage.all_outputs)
        products = products_of(entry, local)
        return len(products) == len(local) and self.cache.held(products)

    def restore(
        self, stage: StageSpec, entry: Entry, outputs: Mapping[str, Fingerprint]
    ) -> list[str]:
        """Put ``entry``'s products back where they are missing or differ; returns notices."""
        notices = []
        wanted = []
        for product in products_of(entry, stage.all_outputs):
            fp = outputs.get(product.path)
            if fp is not None and fp.sha256 == product.sha256:
                continue
            if fp is not None:
                notice = self.clear_one(stage, product.path, fp)
                if notice:
                    notices.append(notice)
            wanted.append(product)
        self.cache.restore(self.root, wanted)
        return notices

    def keep(self, stage: StageSpec, entry: Entry) -> list[str]:
        """Store a successful run's products; a failure is a notice, not a failed run."""
        notices = []
        for product in products_of(entry, stage.all_outputs):
            if not stage.options(product.path).cache:
                continue
            try:
                self.cache.keep(self.root, product)
            except (CacheError, OSError) as exc:
                notices.append(f"could not keep {product.path} in the cache: {exc}")
        return notices
