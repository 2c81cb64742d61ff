"""SQL around the model tables: Spark's progress, fallback runs, promotion, runtime settings."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.config import FallbackMode
from jobs.forgotten_users import not_forgotten


async def fallback_mode(connection: asyncpg.Connection, default: FallbackMode) -> FallbackMode:
    value = await connection.fetchval(
        "SELECT value FROM runtime_settings WHERE name = 'fallback_mode'"
    )
    return FallbackMode(value) if value else default


async def set_fallback_mode(connection: asyncpg.Connection, mode: FallbackMode) -> None:
    await connection.execute(
        "INSERT INTO runtime_settings (name, value) VALUES ('fallback_mode', $1) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        mode.value,
    )


async def spark_offsets(connection: asyncpg.Connection, stream: str) -> dict[tuple[str, int], int]:
    rows = await connection.fetch(
        "SELECT topic, kafka_partition, next_offset FROM spark_offsets WHERE stream = $1", stream
    )
    return {(row["topic"], row["kafka_partition"]): row["next_offset"] for row in rows}


async def last_spark_batch(connection: asyncpg.Connection, stream: str) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT batch_id, processed_at, max_received_at FROM spark_batches WHERE stream = $1 "
        "ORDER BY batch_id DESC LIMIT 1",
        stream,
    )


async def first_uncovered(connection: asyncpg.Connection, since: datetime) -> datetime | None:
    """The earliest receipt, from `since`, of a staged event that neither the model nor the
    fallback holds. Not a time either of them reached: a partition that lags, or an event
    staged late, leaves events behind such a time."""
    return await connection.fetchval(
        "SELECT min(s.received_at) FROM stg_user_logs s WHERE s.received_at >= $1"
        " AND NOT EXISTS (SELECT 1 FROM fact_user_event f WHERE f.event_id = s.event_id)"
        " AND NOT EXISTS (SELECT 1 FROM fact_user_event_fallback b WHERE b.event_id = s.event_id)",
        since,
    )


async def start_fallback_run(
    connection: asyncpg.Connection, trigger: str, since: datetime, until: datetime
) -> int:
    return await connection.fetchval(
        "INSERT INTO fallback_runs (trigger, range_start, range_end) VALUES ($1, $2, $3) "
        "RETURNING run_id",
        trigger,
        since,
        until,
    )


async def finish_fallback_run(
    connection: asyncpg.Connection,
    run_id: int,
    status: str,
    events: int = 0,
    sessions: int = 0,
    error: str | None = None,
) -> None:
    await connection.execute(
        "UPDATE fallback_runs SET finished_at = now(), status = $2, events = $3, sessions = $4, "
        "error = $5 WHERE run_id = $1",
        run_id, status, events, sessions, error,
    )  # fmt: skip


AWAITING_PROMOTION = f"""
    FROM fact_user_event_fallback f
    WHERE ($1::timestamptz IS NULL OR f.received_at >= $1)
      AND ($2::timestamptz IS NULL OR f.received_at < $2)
      AND NOT EXISTS (SELECT 1 FROM fact_user_event e WHERE e.event_id = f.event_id)
      AND {not_forgotten("f.user_id")}
"""


async def count_awaiting_promotion(
    connection: asyncpg.Connection, since: datetime | None, until: datetime | None
) -> int:
    return await connection.fetchval(f"SELECT count(*) {AWAITING_PROMOTION}", since, until)


async def hold_off_other_fact_writers(connection: asyncpg.Connection) -> None:
    """Until the transaction ends, no one else inserts, changes or deletes facts. A Spark merge
    inserting some of the same events in another order would otherwise deadlock with it: each
    waiting on an event id the other has just inserted. The merge waits instead."""
    await connection.execute("LOCK TABLE fact_user_event IN SHARE ROW EXCLUSIVE MODE")


async def promote_facts(
    connection: asyncpg.Connection, since: datetime | None, until: datetime | None
) -> list[asyncpg.Record]:
    """Copy fallback facts not yet in fact_user_event (the rollups count them as they go in);
    returns each promoted event's user and receive time."""
    return await connection.fetch(
        f"INSERT INTO fact_user_event SELECT f.* {AWAITING_PROMOTION} "
        "ON CONFLICT (event_id, received_at) DO NOTHING RETURNING user_id, received_at",
        since,
        until,
    )


async def record_promotion(
    connection: asyncpg.Connection,
    since: datetime | None,
    until: datetime | None,
    promoted_by: str,
    events: int,
    sessions: int,
    max_received_at: datetime,
) -> None:
    await connection.execute(
        "INSERT INTO promotions (range_start, range_end, promoted_by, events_promoted, "
        "sessions_rebuilt, max_received_at) VALUES ($1, $2, $3, $4, $5, $6)",
        since, until, promoted_by, events, sessions, max_received_at,
    )  # fmt: skip


async def recent_spark_batches(
    connection: asyncpg.Connection, stream: str, limit: int
) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT batch_id, events, unparsed, processed_at FROM spark_batches "
        "WHERE stream = $1 ORDER BY batch_id DESC LIMIT $2",
        stream,
        limit,
    )


async def recent_fallback_runs(connection: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT run_id, trigger, range_start, range_end, status, events, sessions "
        "FROM fallback_runs ORDER BY run_id DESC LIMIT $1",
        limit,
    )


async def spark_losses(connection: asyncpg.Connection, stream: str) -> tuple[int, int]:
    """Checkpoint resets and offset gaps recorded for the stream."""
    row = await connection.fetchrow(
        "SELECT (SELECT count(*) FROM spark_checkpoint_resets WHERE stream = $1) AS resets, "
        "(SELECT count(*) FROM spark_offset_gaps WHERE stream = $1) AS gaps",
        stream,
    )
    return row["resets"], row["gaps"]
