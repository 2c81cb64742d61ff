"""A promotion and a Spark merge that insert the same events at the same time, each in its own
order, both end well: the merge waits for the promotion (or the other way round) instead of
each waiting on an event id the other has just inserted, which PostgreSQL ends as a deadlock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from app.db.postgres import PostgresPool
from app.model.promotion import promote
from jobs.rules import load_rules
from tests.integration.fact_support import add_fact

RULES = load_rules()


async def wait_until_blocked(pg: asyncpg.Connection, task: asyncio.Task) -> None:
    """Until some connection waits on a lock (the promotion), or the task ends."""
    for _ in range(200):
        if task.done() or await pg.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the promotion neither ended nor waited")


async def test_a_promotion_and_a_spark_merge_of_the_same_events_do_not_deadlock(
    settings, pg, unique
):
    user = f"promote-beside-spark-{unique}"
    at = datetime(2004, 1, 1, tzinfo=UTC) + timedelta(seconds=int(unique, 16) % 10**7)
    # The fallback built both events; the promotion goes over them first, then second.
    first = await add_fact(pg, "fact_user_event_fallback", user, at)
    second = await add_fact(pg, "fact_user_event_fallback", user, at + timedelta(seconds=1))
    spark = await asyncpg.connect(settings.database_url)
    pool = PostgresPool(settings.database_url)
    try:
        # A Spark merge midway through its insert, in Kafka's order: second in, first next.
        merge = spark.transaction()
        await merge.start()
        await add_fact(spark, "fact_user_event", user, at + timedelta(seconds=1),
                       event_id=second, source_flag="spark")  # fmt: skip
        promotion = asyncio.create_task(
            promote(pool, RULES, "test", since=at, until=at + timedelta(seconds=2))
        )
        await wait_until_blocked(pg, promotion)
        await add_fact(spark, "fact_user_event", user, at, event_id=first, source_flag="spark")
        await merge.commit()
        outcome = await promotion
    finally:
        await spark.close()
        await pool.close()

    assert outcome.facts == 0  # Spark's merge put both in first
    rows = await pg.fetch(
        "SELECT event_id, source_flag FROM fact_user_event WHERE user_id = $1", user
    )
    assert {(row["event_id"], row["source_flag"]) for row in rows} == {
        (first, "spark"),
        (second, "spark"),
    }
    counted = await pg.fetchval(
        "SELECT count(*) FROM fact_user_event WHERE event_date = $1 AND is_valid", at.date()
    )
    assert await pg.fetchval("SELECT events FROM rollup_day WHERE day = $1", at.date()) == counted
