"""``Entry``: one ledger entry as read back: its bundle, statement and commit."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from auditpipe.errors import LedgerError, ManifestError
from auditpipe.manifest.statement import SignedStatement
from auditpipe.signing.bundle import EntryBundle


@dataclass(frozen=True)
class Entry:
    """A ledger entry; ``id`` has been checked to equal sha256(payload)."""

    id: str
    bundle: EntryBundle
    commit: str | None = None
    committed_at: int | None = None

    @cached_property
    def signed(self) -> SignedStatement:
        """The statement, parsed from the stored payload bytes."""
        try:
            return SignedStatement.parse(self.bundle.payload)
        except ManifestError as exc:
            raise LedgerError(
                f"entry {self.id} holds an invalid statement: {exc.message}",
                hint="run `auditpipe verify --ledger` to see every problem on the ledger",
            ) from exc

    @property
    def kind(self) -> str:
        return self.signed.kind

    @property
    def stage(self) -> str | None:
        return self.signed.stage
