"""A report's time comes from the ledger or $SOURCE_DATE_EPOCH, never the clock; periods."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from auditpipe.errors import ConfigError
from auditpipe.ledger.ledger import Ledger
from auditpipe.report.activity import period
from auditpipe.report.stamp import from_epoch, second, stamp
from tests.conftest import Project, Result


def test_report_time_is_the_newest_entry_not_the_clock(
    project: Project, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    with Ledger.open(project.root) as ledger:
        assert stamp(ledger).source == "an empty ledger"
        assert stamp(ledger).time == "1970-01-01T00:00:00Z"
    assert cli("record", "--stage", "a", "--cmd", "true").code == 0
    assert cli("record", "--stage", "b", "--cmd", "true").code == 0
    with Ledger.open(project.root) as ledger:
        newest = next(ledger.entries()).signed.stage_run()
        assert newest is not None and newest.stage == "b"
        first = stamp(ledger)
        assert first.time == second(newest.finished_at)
        assert first.source == "the newest ledger entry"
        assert first.ledger_head == ledger.head()
        assert stamp(ledger) == first
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
        assert stamp(ledger).time == "1970-01-01T00:00:00Z"
        assert stamp(ledger).source == "$SOURCE_DATE_EPOCH"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-22T13:37:49.348358Z", "2026-11-22T13:37:49Z"),
        ("2026-11-22T15:37:49+02:00", "2026-11-22T13:37:49Z"),
        ("2026-11-22T13:37:49", "2026-11-22T13:37:49Z"),
        ("not a time", "1970-01-01T00:00:00Z"),
    ],
)
def test_times_are_utc_to_the_second(given: str, expected: str) -> None:
    assert second(given) == expected


def test_source_date_epoch_must_be_seconds() -> None:
    assert from_epoch(" 1700000000\n") == "2023-11-14T22:13:20Z"
    for bad in ("soon", "1.5", "99999999999999999999"):
        with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH"):
            from_epoch(bad)


def test_periods_take_whole_utc_days_inclusive() -> None:
    chosen = period("2026-11-01", "2026-11-30")
    assert chosen.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert chosen.until == datetime(2026, 12, 1, tzinfo=UTC)  # exclusive: all of the 30th
    assert chosen.options == " --since 2026-11-01 --until 2026-11-30"
    instant = period("2026-11-01T12:00:00+01:00", None)
    assert instant.since == datetime(2026, 11, 1, 11, tzinfo=UTC) and instant.until is None
    assert period(None, None).label == "the first entry to the newest entry"
    with pytest.raises(ConfigError, match="is not a date"):
        period("November", None)
    with pytest.raises(ConfigError, match="is before --since"):
        period("2026-11-02", "2026-11-01")
