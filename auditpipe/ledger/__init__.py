"""The append-only ledger: a git branch of signed entries, read and verified."""

from auditpipe.ledger.entry import Entry
from auditpipe.ledger.layout import LEDGER_BRANCH, LEDGER_REF
from auditpipe.ledger.ledger import Ledger
from auditpipe.ledger.verify import Problem, VerifyReport, verify_ledger

__all__ = [
    "LEDGER_BRANCH",
    "LEDGER_REF",
    "Entry",
    "Ledger",
    "Problem",
    "VerifyReport",
    "verify_ledger",
]
