"""Which partitions are missing, by day and by month, and where retention may cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.partitions import Partition, PartitionedTable, missing_starts
from app.ops.storage_upkeep import kept_since

DAY, MONTH = PartitionedTable("t", "day"), PartitionedTable("t", "month")


def at(day: int, month: int = 12, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_days_not_covered_are_missing_and_the_old_table_covers_all_before_it():
    existing = [Partition("t_before", None, at(8)), Partition("t_20261209", at(9), at(10))]
    assert missing_starts(DAY, existing, at(7, hour=13), at(11, hour=2)) == [at(8), at(10), at(11)]
    assert DAY.partition_name(at(11)) == "t_20261211"


def test_months_start_on_the_first_and_cross_the_year():
    starts = missing_starts(MONTH, [], at(30, month=11, hour=5), datetime(2027, 1, 2, tzinfo=UTC))
    assert starts == [at(1, month=11), at(1), datetime(2027, 1, 1, tzinfo=UTC)]
    assert MONTH.next_start(at(1)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert MONTH.partition_name(at(1)) == "t_202612"


def test_retention_cuts_at_a_day_and_never_inside_the_resend_window():
    settings = Settings(staging_retention_days=30)
    now = at(7, hour=16)
    assert kept_since(settings, now, timedelta(days=7)) == at(7, month=11)
    assert kept_since(settings, now, timedelta(days=45)) == at(23, month=10)
