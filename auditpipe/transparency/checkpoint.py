"""C2SP tlog-checkpoints (https://c2sp.org/tlog-checkpoint) over the ledger.

The body is three lines: the origin, the tree size in decimal, and the
base64 RFC 6962 root hash. auditpipe's origin is ``auditpipe.dev/ledger/``
followed by the ledger branch's root commit id: every clone, fork and mirror of
one ledger shares it, and a ledger rebuilt from scratch gets a new one.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from auditpipe.errors import ManifestError
from auditpipe.transparency.merkle import HASH_SIZE

ORIGIN_PREFIX = "auditpipe.dev/ledger/"
_SIZE = re.compile(r"^(0|[1-9][0-9]{0,18})$")


def origin_for(root_commit: str) -> str:
    return ORIGIN_PREFIX + root_commit


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    def describe(self) -> str:
        return f"checkpoint of {self.size} entries (root {self.root.hex()[:12]})"


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint in a note's text; extension lines are refused (none are defined)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise ManifestError("a checkpoint body is origin, size and root hash, one per line")
    if len(lines) > 4:
        raise ManifestError("the checkpoint has extension lines auditpipe does not know")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or any(c.isspace() for c in origin):
        raise ManifestError("the checkpoint's origin line is empty or has spaces")
    if not _SIZE.match(size):
        raise ManifestError(f"the checkpoint's tree size {size!r} is not a decimal number")
    try:
        digest = base64.b64decode(root, validate=True)
    except (binascii.Error, ValueError):
        raise ManifestError("the checkpoint's root hash is not base64") from None
    if len(digest) != HASH_SIZE:
        raise ManifestError(f"the checkpoint's root hash is {len(digest)} bytes, not 32")
    return Checkpoint(origin, int(size), digest)
