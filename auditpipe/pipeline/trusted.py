"""Which runs ``status`` and ``run`` may count: those the project's trust set vouches for.

The same rule as ``gate`` and ``verify``: a run signed by a signer the trust set
does not know (pulled from a contributor's ledger, say) is evidence that it
happened, never a reason to skip, restore or distrust a stage. ``RunTrust`` is a
``Verifier`` that remembers each entry's verdict for one command, so a run is
verified at most once however many questions the planner asks about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditpipe.errors import Error, UntrustedSigner, VerificationFailed
from auditpipe.ledger.entry import Entry
from auditpipe.signing.bundle import EntryBundle
from auditpipe.signing.interface import SignerIdentity, Verifier

if TYPE_CHECKING:
    from auditpipe.trust.root import TrustRoot


@dataclass
class RunTrust(Verifier):
    """``verifier`` (the project's trust set), each verdict cached by entry id."""

    verifier: Verifier
    keys_dir: str = "policies/keys/"
    """Where the trusted keys live, as messages name it."""
    empty: bool = False
    """True when the trust set holds no key and no identity: nothing can be trusted."""
    _seen: dict[str, tuple[bytes, SignerIdentity | Error]] = field(default_factory=dict)

    @classmethod
    def of(cls, trust: TrustRoot) -> RunTrust:
        """The trust set a ``TrustRoot`` holds (``auditpipe.trust``)."""
        from auditpipe.signing.factory import verifier_for
        from auditpipe.trust.root import KEYS_DIR

        return cls(
            verifier_for(trust),
            f"{trust.where(KEYS_DIR)}/",
            empty=not trust.keys and not trust.identities,
        )

    def verify(self, bundle: EntryBundle) -> SignerIdentity:
        """The trusted signer of ``bundle``, or raise ``VerificationFailed`` (cached)."""
        key = bundle.id
        seen = self._seen.get(key)
        if seen is None or seen[0] != bundle.raw:  # same id, other bytes: judge them anew
            try:
                seen = (bundle.raw, self.verifier.verify(bundle))
            except Error as exc:
                seen = (bundle.raw, exc)
            self._seen[key] = seen
        if isinstance(seen[1], Error):
            raise seen[1]
        return seen[1]

    def refusal(self, entry: Entry) -> str | None:
        """None when ``entry`` is signed by a trusted signer, else why it does not count
        (a phrase: "is signed by an untrusted signer (key …)")."""
        try:
            self.verify(entry.bundle)
        except UntrustedSigner as exc:
            return f"is signed by an untrusted signer ({exc.signer})"
        except VerificationFailed as exc:
            return f"does not verify ({exc.message})"
        except Error as exc:
            return f"cannot be verified ({exc.message})"
        return None

    def trusted(self, entry: Entry) -> bool:
        return self.refusal(entry) is None

    def way_out(self) -> str | None:
        """What to do when no signer is trusted at all, else None."""
        if not self.empty:
            return None
        return (
            f"no key is trusted ({self.keys_dir} is empty): trust yours with "
            "`auditpipe keys trust` (`auditpipe init` does it) and commit it"
        )
