"""Products between the local output cache and a remote one: push, and fetch checked.

Push sends what the local cache holds (already checked when it was stored).
Fetch takes the digests of a *trusted signed* run's products (the caller
verified the entry) and brings each object into the local cache only once its
bytes hash to that digest; a directory's listing must make up the signed
Merkle digest before any of its files is fetched. A bad object raises
``ObjectMismatch`` naming the object, the product and the entry; nothing of it
reaches the local cache or the working tree.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auditpipe.cache.local import LocalObjectStore
from auditpipe.cache.outputs import OutputCache, Product, checked_listing
from auditpipe.cache.remote import RemoteObjectStore
from auditpipe.errors import CacheError, ObjectMismatch


@dataclass
class Pushed:
    """What ``push`` did, by product path."""

    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    not_cached: list[str] = field(default_factory=list)


class RemoteCache:
    """A local output cache and the remote object store it is shared through."""

    def __init__(self, local: OutputCache, remote: RemoteObjectStore) -> None:
        self.local, self.remote = local, remote

    # -- push ---------------------------------------------------------------------

    def push(self, products: Sequence[Product]) -> Pushed:
        """Send the products the local cache holds; objects already there are left alone."""
        done = Pushed()
        for product in products:
            if not self.local.has(product):
                done.not_cached.append(product.path)
            elif self._on_remote(product):
                done.already.append(product.path)
            else:
                self._send(product)
                done.sent.append(product.path)
        return done

    def _on_remote(self, product: Product) -> bool:
        if product.kind != "directory":
            return self.remote.has(product.sha256)
        if not self.remote.has_listing(product.sha256):
            return False
        entries = self.local._listing(product.sha256)
        return all(self.remote.has(e["sha256"]) for e in entries if "sha256" in e)

    def _send(self, product: Product) -> None:
        if product.kind == "directory":
            entries = self.local._listing(product.sha256)
            for e in entries:
                if "sha256" in e and not self.remote.has(e["sha256"]):
                    self.remote.add(_object_path(self.local, e["sha256"]), e["sha256"])
            # The listing last: a reader who finds it finds its files too.
            self.remote.add_listing(product.sha256, self.local.listing_bytes(product.sha256))
        elif not self.remote.has(product.sha256):
            self.remote.add(_object_path(self.local, product.sha256), product.sha256)

    # -- fetch ----------------------------------------------------------------------

    def fetch(self, entry: str, products: Sequence[Product]) -> None:
        """Bring ``products`` (signed by run ``entry``) into the local cache, checked.

        Raises ``ObjectMismatch`` for bytes that are not the signed ones and
        ``CacheError`` for objects the remote does not hold.
        """
        for product in products:
            if self.local.has(product):
                continue
            try:
                if product.kind == "directory":
                    self._fetch_dir(product)
                else:
                    self._fetch_object(product.sha256)
            except ObjectMismatch as exc:
                raise ObjectMismatch(
                    exc.where, exc.expected, exc.found, entry=entry, product=product.path
                ) from None

    def _fetch_dir(self, product: Product) -> None:
        data = self.remote.read_listing(product.sha256)
        try:
            entries = checked_listing(product.sha256, data)
        except CacheError:
            raise ObjectMismatch(
                self.remote.listing_where(product.sha256),
                product.sha256,
                "it lists files that do not make up the directory digest",
            ) from None
        for e in entries:
            if "sha256" in e and not self.local.store.has(e["sha256"]):
                self._fetch_object(e["sha256"])
        self.local.adopt_listing(product.sha256, data)

    def _fetch_object(self, oid: str) -> None:
        if self.local.store.has(oid):
            return
        tmp_dir = self.local.index_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"remote-{uuid.uuid4().hex}"
        try:
            self.remote.download(oid, tmp)  # checked against oid before it exists
            self.local.store.add(tmp, oid, move=True)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _object_path(local: OutputCache, oid: str) -> Path:
    """The local file holding ``oid`` (the local store is a directory of objects)."""
    if not isinstance(local.store, LocalObjectStore):
        raise CacheError("the local cache is not a directory of objects; cannot push from it")
    return local.store.path(oid)
