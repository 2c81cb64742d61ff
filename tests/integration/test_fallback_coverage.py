"""The automatic fallback covers what staging holds that the model lacks, even behind the
newest receipt Spark has seen (a lagging partition, an event staged late); an operator's range
is run as given, without that search."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from app.db.postgres import PostgresPool
from app.model.fallback import FallbackPolicy, ReceiveRange, run_fallback
from jobs.rules import load_rules


async def test_an_event_behind_sparks_newest_receipt_is_still_covered(settings, pg, unique):
    now = datetime.now(UTC)
    left_behind = now - timedelta(minutes=30)
    event_id = uuid.uuid4()
    await pg.execute(
        "INSERT INTO stg_user_logs (event_id, event_type, user_id, occurred_at, received_at, "
        "schema_version, context, payload, kafka_topic, kafka_partition, kafka_offset) "
        "VALUES ($1, 'click', $2, $3, $3, 1, '{}', $5, 'user_click_log', 2, $4)",
        event_id, f"lagging-{unique}", left_behind, random.randrange(10**12),
        '{"element": "x"}',
    )  # fmt: skip
    # Spark has gone past it on the other partitions.
    batch_id = -random.randrange(1, 10**9)
    await pg.execute(
        "INSERT INTO spark_batches (stream, batch_id, events, unparsed, max_received_at) "
        "VALUES ($1, $2, 1, 0, $3)",
        settings.spark_checkpoint_dir, batch_id, now - timedelta(minutes=1),
    )  # fmt: skip
    pool = PostgresPool(settings.database_url)
    policy = FallbackPolicy(settle=timedelta(seconds=5), max_lookback=timedelta(hours=24))
    try:
        outcome = await run_fallback(pool, load_rules(), policy, now, dry_run=True)
    finally:
        await pool.close()
        await pg.execute(
            "DELETE FROM spark_batches WHERE stream = $1 AND batch_id = $2",
            settings.spark_checkpoint_dir, batch_id,
        )  # fmt: skip
    assert outcome.range is not None
    assert outcome.range.since <= left_behind < outcome.range.until


async def test_an_operators_range_is_run_without_reading_the_model(settings, unique):
    """The search for the first uncovered event reads the fact tables over the whole lookback:
    with a lock held on one of them, a run given its range still ends."""
    since = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(seconds=int(unique, 16) % 10**7)
    until = since + timedelta(seconds=1)
    policy = FallbackPolicy(settle=timedelta(seconds=5), max_lookback=timedelta(hours=24))
    pool = PostgresPool(settings.database_url)
    blocker = await asyncpg.connect(settings.database_url)
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE fact_user_event_fallback IN ACCESS EXCLUSIVE MODE")
            async with asyncio.timeout(10):  # without the change, it waits for the lock
                outcome = await run_fallback(
                    pool, load_rules(), policy, datetime.now(UTC), since=since, until=until
                )
    finally:
        await blocker.close()
        await pool.close()
    assert outcome.range == ReceiveRange(since, until)
    assert outcome.result is not None and outcome.result.events == 0
