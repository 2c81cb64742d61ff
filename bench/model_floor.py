"""PostgreSQL alone: the one insert every way of building the facts must make.

The facts a throughput run's Spark job wrote are inserted again, under new event ids, into
fact_user_event in a single statement, as the stream's merge does from its incoming table:
the same indexes, the same rollup trigger. Then all of it is rolled back. What it measures is
the least time the database spends on those facts, whatever computes them.
"""

from __future__ import annotations

import time

import asyncpg

from jobs.model_columns import FACT_COLUMNS

NAMES = ", ".join(FACT_COLUMNS)
NEW_IDS = NAMES.replace("event_id", "gen_random_uuid()", 1)


async def time_fact_insert(connection: asyncpg.Connection, user_ids: set[str]) -> tuple[int, float]:
    """How many facts of these users one INSERT put in again, and the seconds it took."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute(
            f"CREATE TEMP TABLE floor_facts ON COMMIT DROP AS SELECT {NAMES} "
            "FROM fact_user_event WHERE user_id = ANY($1::text[])",
            sorted(user_ids),
        )
        await connection.execute("ANALYZE floor_facts")
        started = time.perf_counter()
        inserted = await connection.execute(
            f"INSERT INTO fact_user_event ({NAMES}, source_flag) "
            f"SELECT {NEW_IDS}, 'bench' FROM floor_facts "
            "ON CONFLICT (event_id, received_at) DO NOTHING"
        )
        seconds = time.perf_counter() - started
    finally:
        await transaction.rollback()
    return int(inserted.split()[-1]), seconds
