"""The time-partitioned tables: which they are, their partitions' bounds, and the DDL that adds
the coming ones and drops the expired ones.

A partition is added as a table of its own and then attached, which locks the parent only
against other DDL, so writers never wait on it. DDL waits for its locks at most `LOCK_TIMEOUT`:
a long read holding one makes the maintenance try again later rather than queue every writer
behind it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

log = logging.getLogger(__name__)
LOCK_TIMEOUT = "5s"


@dataclass(frozen=True)
class PartitionedTable:
    name: str
    period: str  # "day" or "month": the span of one partition

    def start_of(self, moment: datetime) -> datetime:
        day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return day.replace(day=1) if self.period == "month" else day

    def next_start(self, start: datetime) -> datetime:
        if self.period == "day":
            return start + timedelta(days=1)
        return (start + timedelta(days=32)).replace(day=1)

    def partition_name(self, start: datetime) -> str:
        stamp = "%Y%m%d" if self.period == "day" else "%Y%m"
        return f"{self.name}_{start.strftime(stamp)}"


# By receive day: staging, and the audit's ledgers by id of the same events, which expire with
# it (the audit checked their windows long before).
STAGING = (PartitionedTable("stg_user_logs", "day"), PartitionedTable("stg_comments", "day"))
AUDIT_LEDGERS = (
    PartitionedTable("audit.acknowledged", "day"),
    PartitionedTable("audit.backed_up", "day"),
)
EXPIRING = STAGING + AUDIT_LEDGERS
# The model's by month, kept: facts by receive time, sessions by their start.
MODEL = (
    PartitionedTable("fact_user_event", "month"),
    PartitionedTable("fact_user_event_fallback", "month"),
    PartitionedTable("dim_session", "month"),
    PartitionedTable("dim_session_fallback", "month"),
)
PARTITIONED = EXPIRING + MODEL
BY_NAME = {table.name: table for table in PARTITIONED}
# No row was received after now (an hour more for the clocks of other hosts): a look-back bounded
# by it leaves out the empty partitions added ahead, which it would otherwise read too.
RECEIVED_BY_NOW = "now() + interval '1 hour'"


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime | None  # None: from the start of time (the table as it was before)
    upper: datetime


BOUNDS = r"""
    SELECT c.oid::regclass::text,
        (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
        (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = $1::regclass ORDER BY 3
"""


async def partitions(connection: asyncpg.Connection, table: PartitionedTable) -> list[Partition]:
    return [Partition(*row) for row in await connection.fetch(BOUNDS, table.name)]


def missing_starts(
    table: PartitionedTable, existing: list[Partition], first: datetime, last: datetime
) -> list[datetime]:
    """The period starts from `first`'s to `last`'s that no partition covers yet."""
    wanted, start = [], table.start_of(first)
    while start <= last:
        covered = any((p.lower is None or p.lower <= start) and start < p.upper for p in existing)
        if not covered:
            wanted.append(start)
        start = table.next_start(start)
    return wanted


async def ensure_partitions(
    connection: asyncpg.Connection, table: PartitionedTable, first: datetime, last: datetime
) -> list[str]:
    """Adds the partitions covering `first` to `last` that are missing; returns their names."""
    added = []
    for start in missing_starts(table, await partitions(connection, table), first, last):
        name, end = table.partition_name(start), table.next_start(start)
        async with connection.transaction():
            await connection.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            await connection.execute(
                f"CREATE TABLE {name} (LIKE {table.name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
            await connection.execute(
                f"ALTER TABLE {table.name} ATTACH PARTITION {name} "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        added.append(name)
    return added


async def writing_with_partitions(
    connection: asyncpg.Connection,
    tables: tuple[PartitionedTable, ...],
    received: Callable[[], list[datetime]],
    write: Callable[[], Awaitable[None]],
) -> None:
    """`write()`, and once more after adding the partitions of the `received` times it found
    missing. The scheduler adds each day's partitions ahead; this covers a write that outran
    it (a scheduler stopped for days, or a replay of days retention dropped)."""
    try:
        await write()
    except asyncpg.CheckViolationError as error:
        if not str(error).startswith("no partition of relation"):
            raise
        times, added = received(), []
        for table in tables:
            added += await ensure_partitions(connection, table, min(times), max(times))
        log.warning("partitions added at write time", extra={"partitions": added})
        await write()


@asynccontextmanager
async def look_back_transaction(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """A transaction whose statements take the look-back's start as a parameter, each planned
    with its value. After five runs of a prepared statement PostgreSQL may keep a plan made
    without it, which cannot know how few rows the look-back leaves: it hashed every row
    received since (1.7M), 1.2 to 2.5 s a batch of 500 against 3 to 6 ms."""
    async with connection.transaction():
        await connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


async def drop_partition(connection: asyncpg.Connection, partition: Partition) -> int:
    """Drops a partition whole; returns the rows it held (from the planner's statistics, so the
    count costs no scan: -1 if never analysed)."""
    async with connection.transaction():
        await connection.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        rows = await connection.fetchval(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass", partition.name
        )
        await connection.execute(f"DROP TABLE {partition.name}")
    return rows
