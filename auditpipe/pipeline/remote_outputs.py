"""A stage's signed products from (and to) the remote output cache, trusted runs only.

The trust rule: the remote is untrusted storage. A run's products are fetched
only when its entry verifies under the project's trust set (the keys of
``policies/keys/`` at ``$AUDITPIPE_TRUST_REF``, else the working tree), and each
object only lands in the local cache once its bytes hash to the digest that
entry signed (``cache/transfer.py``). Which remote an output uses is its
``remote:`` option (default: ``cache: remote:``); ``push: false`` and
``cache: false`` outputs never go to a remote.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditpipe.cache import OutputCache, Product
from auditpipe.cache.remote import RemoteObjectStore
from auditpipe.cache.runs import cacheable, products_of
from auditpipe.cache.transfer import Pushed, RemoteCache
from auditpipe.errors import CacheError, Error, ObjectMismatch, RemoteCacheError
from auditpipe.ledger.entry import Entry
from auditpipe.pipeline.remotes import Remotes
from auditpipe.pipeline.stage import StageSpec
from auditpipe.signing.interface import Verifier

if TYPE_CHECKING:
    from auditpipe.pipeline.outputs import StageOutputs


@dataclass(frozen=True)
class Fetched:
    """The outcome of fetching one run's products: ``ok``, or why not (a notice)."""

    ok: bool
    notice: str | None = None
    refused: bool = False
    """The remote served bytes that are not the signed ones (an attack or damage)."""


@dataclass
class RemoteOutputs:
    """The remote caches of one pipeline, for one command."""

    cache: OutputCache
    remotes: Remotes
    verifier: Verifier
    unavailable: dict[str, str] = field(default_factory=dict)
    """Remote URL -> why it cannot be used; tried once per command, then skipped."""
    _stores: dict[str, RemoteCache] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return self.remotes.default is not None or bool(self.remotes.named)

    def _remote(self, url: str) -> RemoteCache:
        if url not in self._stores:
            self._stores[url] = RemoteCache(self.cache, RemoteObjectStore(url))
        return self._stores[url]

    def _by_remote(self, stage: StageSpec, products: list[Product]) -> dict[str, list[Product]]:
        """Products grouped by the URL of the remote they belong to (none: not shared)."""
        groups: dict[str, list[Product]] = defaultdict(list)
        for product in products:
            options = stage.options(product.path)
            url = self.remotes.url(options.remote)
            if url is not None and options.cache and options.push:
                groups[url].append(product)
        return groups

    def _shared(self, stage: StageSpec, entry: Entry) -> dict[str, list[Product]] | None:
        """``entry``'s products by remote when every one of them is shared, else None."""
        local = cacheable(stage.all_outputs)  # URL outputs are never on a remote cache
        products = products_of(entry, local)
        if len(products) != len(local):
            return None
        groups = self._by_remote(stage, products)
        if sum(len(g) for g in groups.values()) != len(products):
            return None  # some product is never on a remote
        return groups

    def _untrusted(self, entry: Entry) -> str | None:
        try:
            self.verifier.verify(entry.bundle)
        except Error as exc:
            return (
                f"run {entry.id[:12]} is not signed by a trusted signer ({exc.message}); "
                "its products are not taken from the remote cache"
            )
        return None

    def available(self, stage: StageSpec, entry: Entry) -> bool:
        """Whether a fetch may restore ``entry`` (for a dry run: nothing is downloaded)."""
        groups = self._shared(stage, entry)
        if groups is None or self._untrusted(entry):
            return False
        if any(url in self.unavailable for url in groups):
            return False
        try:
            for url, group in groups.items():
                store = self._remote(url).remote
                for p in group:
                    held = store.has_listing if p.kind == "directory" else store.has
                    if not held(p.sha256):
                        return False
        except RemoteCacheError as exc:
            for url in groups:
                self.unavailable.setdefault(url, exc.message)
            return False
        return True

    def fetch(self, stage: StageSpec, entry: Entry) -> Fetched:
        """Bring ``entry``'s products into the local cache from their remote(s)."""
        groups = self._shared(stage, entry)
        if groups is None:
            return Fetched(False)
        untrusted = self._untrusted(entry)
        if untrusted:
            return Fetched(False, untrusted)
        for url, group in groups.items():
            if url in self.unavailable:
                return Fetched(False)
            try:
                self._remote(url).fetch(entry.id, group)
            except ObjectMismatch as exc:
                return Fetched(False, exc.message, refused=True)
            except RemoteCacheError as exc:
                self.unavailable[url] = exc.message
                return Fetched(False, f"{exc.message}; running the stage instead")
            except CacheError:
                return Fetched(False)  # not pushed (yet): the stage runs
        return Fetched(True)

    def first(
        self,
        stage: StageSpec,
        entries: Sequence[Entry],
        outputs: StageOutputs,
        *,
        dry_run: bool,
        notice: Callable[[str], None],
    ) -> Entry | None:
        """The first of ``entries`` whose products are now in the local cache, fetched
        and checked (a dry run only asks the remote, downloads nothing)."""
        if not self.configured:
            return None
        for entry in entries:
            if dry_run:
                if self.available(stage, entry):
                    return entry
                continue
            fetched = self.fetch(stage, entry)
            if fetched.notice:
                notice(fetched.notice + ("; running the stage instead" if fetched.refused else ""))
            if fetched.ok and outputs.restorable(stage, entry):
                return entry
        return None

    def push(self, stage: StageSpec, entry: Entry) -> dict[str, Pushed]:
        """Send ``entry``'s products that the local cache holds to their remote(s)."""
        return {
            url: self._remote(url).push(group)
            for url, group in self._by_remote(stage, products_of(entry, stage.all_outputs)).items()
        }

    def check(self) -> None:
        """Raise ``RemoteCacheError`` unless every configured remote answers."""
        urls = {self.remotes.default, *self.remotes.named.values()} - {None}
        for url in sorted(u for u in urls if u):
            self._remote(url).remote.check()
