"""When and by whom a report was made, without reading the clock.

A report's time is the time of the newest entry on the ledger (or
``$SOURCE_DATE_EPOCH`` when set, the reproducible-builds convention), so the
same ledger and template always give the same bytes. It is written on the
cover together with where it came from, and used as the PDF's creation and
modification dates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

from auditpipe import __version__
from auditpipe.errors import ConfigError
from auditpipe.ledger.entry import Entry
from auditpipe.ledger.ledger import Ledger
from auditpipe.pipeline import facts

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


@dataclass(frozen=True)
class Stamp:
    """The report's time (from the ledger, never the clock) and its author."""

    time: str
    """UTC, RFC 3339 to the second (``2026-11-22T13:37:49Z``)."""
    source: str
    """Where ``time`` comes from, in words, for the cover."""
    by: str
    """``user@host`` of whoever generated the report."""
    ci_run_url: str | None
    ledger_head: str | None
    tool: str


def entry_time(entry: Entry) -> str | None:
    """The time an entry's statement records (run finished, promoted, checkpointed)."""
    predicate = entry.signed.statement.predicate
    for key in ("finishedAt", "promotedAt", "createdAt"):
        value = predicate.get(key)
        if isinstance(value, str):
            return value
    return None


def newest_entry_time(ledger: Ledger) -> str | None:
    """The newest time among the entries the ledger's head commit added."""
    newest: str | None = None
    first_commit: str | None = None
    for entry in ledger.entries():
        if first_commit is None:
            first_commit = entry.commit
        elif entry.commit != first_commit:
            break
        when = entry_time(entry)
        if when and (newest is None or when > newest):
            newest = when
    return newest


def stamp(ledger: Ledger) -> Stamp:
    """The stamp for a report on this ledger as it is now."""
    runner = facts.runner()
    head = ledger.head()
    epoch = os.environ.get(SOURCE_DATE_EPOCH)
    if epoch is not None:
        time = from_epoch(epoch)
        source = f"${SOURCE_DATE_EPOCH}"
    else:
        recorded = newest_entry_time(ledger)
        time = second(recorded) if recorded else "1970-01-01T00:00:00Z"
        source = "the newest ledger entry" if recorded else "an empty ledger"
    return Stamp(
        time=time,
        source=source,
        by=f"{runner.user}@{runner.host}",
        ci_run_url=runner.ci_run_url,
        ledger_head=head,
        tool=f"auditpipe {__version__}",
    )


def from_epoch(text: str) -> str:
    try:
        value = int(text.strip())
        moment = datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            f"{SOURCE_DATE_EPOCH}={text!r} is not a number of seconds since 1970",
            hint=f"unset {SOURCE_DATE_EPOCH}, or set it to e.g. $(git log -1 --format=%ct)",
        ) from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def second(rfc3339: str) -> str:
    """``2026-11-22T13:37:49.348358Z`` -> ``2026-11-22T13:37:49Z`` (UTC, whole seconds)."""
    moment = parse_time(rfc3339)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "1970-01-01T00:00:00Z"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime (None when it is not one)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
