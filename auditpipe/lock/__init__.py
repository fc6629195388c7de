"""``auditpipe.lock``: per stage the run whose outputs are in the tree, and the
signed ledger checkpoint after the last append, committed with the code."""

from auditpipe.lock.files import LOCK_FILE, lock_at_revision, read_lock, write_lock
from auditpipe.lock.model import Lock, parse_lock

__all__ = ["LOCK_FILE", "Lock", "lock_at_revision", "parse_lock", "read_lock", "write_lock"]
