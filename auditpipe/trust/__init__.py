"""The trust root: the keys, identities and policies a check trusts, and where from.

``root`` is the core (bytes in, a ``TrustRoot`` out, no I/O); ``read`` reads
those bytes from a git revision's objects or from the working tree.
"""

from auditpipe.trust.root import TRUST_REF_ENV, TrustRoot, trust_root

__all__ = ["TRUST_REF_ENV", "TrustRoot", "trust_root"]
