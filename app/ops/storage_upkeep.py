"""Storage upkeep: the partitions of the coming days added ahead of the writes, and the days of
staging (and of the audit's ledgers by id) past their retention dropped whole, each run recorded
in storage_upkeep_runs.

Dropping a partition fires no trigger: the audit's ledger keeps the counts of what was staged,
its verdicts on those minutes stand (it no longer checks them), and the rollups and facts built
from those days stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from app.config import Settings
from app.db.partitions import (
    EXPIRING,
    PARTITIONED,
    STAGING,
    PartitionedTable,
    drop_partition,
    ensure_partitions,
    partitions,
)
from app.db.postgres import PostgresPool
from jobs.rules import load_rules

RECORD_RUN = """
    INSERT INTO storage_upkeep_runs
        (kept_since, added, dropped, rows_dropped, oldest_kept, covered_until)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING run_id, ran_at
"""
LAST_RUN = """
    SELECT run_id, ran_at, kept_since, added, dropped, rows_dropped, oldest_kept, covered_until
    FROM storage_upkeep_runs ORDER BY ran_at DESC LIMIT 1
"""


@dataclass(frozen=True)
class UpkeepRun:
    run_id: int
    ran_at: datetime
    kept_since: datetime
    added: list[str]
    dropped: list[str]
    rows_dropped: int
    oldest_kept: datetime | None
    covered_until: datetime | None


def kept_since(settings: Settings, now: datetime, resend_window: timedelta) -> datetime:
    """Staging's cutoff: never within the resend window, where the writer looks for copies."""
    keep = max(timedelta(days=settings.staging_retention_days), resend_window)
    return STAGING[0].start_of(now - keep)


async def add_coming_partitions(
    connection: asyncpg.Connection, settings: Settings, now: datetime
) -> list[str]:
    until = now + timedelta(days=settings.partitions_ahead_days)
    added = []
    for table in PARTITIONED:
        added += await ensure_partitions(connection, table, now, until)
    return added


async def drop_expired(
    connection: asyncpg.Connection, table: PartitionedTable, cutoff: datetime
) -> tuple[list[str], int]:
    dropped, rows = [], 0
    for partition in await partitions(connection, table):
        if partition.upper <= cutoff:
            rows += max(0, await drop_partition(connection, partition))
            dropped.append(partition.name)
    return dropped, rows


async def storage_upkeep(pool: PostgresPool, settings: Settings, now: datetime) -> UpkeepRun:
    cutoff = kept_since(settings, now, load_rules().resend_window)
    async with pool.connection() as connection:
        added = await add_coming_partitions(connection, settings, now)
        dropped, rows = [], 0
        for table in EXPIRING:
            names, count = await drop_expired(connection, table, cutoff)
            dropped += names
            rows += count
        left = await partitions(connection, STAGING[0])
        oldest, covered = (left[0].lower, left[-1].upper) if left else (None, None)
        run_id, ran_at = await connection.fetchrow(
            RECORD_RUN, cutoff, added, dropped, rows, oldest, covered
        )
    return UpkeepRun(run_id, ran_at, cutoff, added, dropped, rows, oldest, covered)


async def last_upkeep_run(connection: asyncpg.Connection) -> UpkeepRun | None:
    row = await connection.fetchrow(LAST_RUN)
    return None if row is None else UpkeepRun(**dict(row))
