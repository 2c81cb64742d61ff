"""Session rebuilds of the same users never interleave: a promotion waits for the Spark batch
that is rebuilding its users, a fallback run for a rebuild of its users, and the sessions left
are the ones all the facts give."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pandas as pd

from app.db.postgres import PostgresPool
from app.model.promotion import promote
from jobs import session_locks
from jobs.frames import frame_records
from jobs.model_columns import SESSION_COLUMNS, SESSION_INPUT_COLUMNS
from jobs.model_store import read_facts_of_users
from jobs.pandas.fallback import build_fallback
from jobs.pandas.transforms import build_sessions
from jobs.rules import load_rules
from jobs.spark import batch_store
from tests.integration.fact_support import add_fact
from tests.support import partitions_for_days

RULES = load_rules()
COMPARED = ("session_id", "session_start", "session_end", "event_count")


def a_moment(unique: str, year: int) -> datetime:
    """A receipt time no other test uses, so a range around it holds only this test's rows."""
    return datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=int(unique, 16) % 10**7)


async def wait_for_lock_or_end(pg, task: asyncio.Task, table: str) -> bool:
    """True once someone waits on a session lock of `table`; False if the task ends first."""
    for _ in range(200):
        if task.done():
            return False
        waiting = await pg.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid = $1::int::oid",
            session_locks.LOCK_CLASSES[table],
        )
        if waiting:
            return True
        await asyncio.sleep(0.05)
    raise AssertionError("the task neither ended nor waited on a session lock")


async def sessions_of(pg, table: str, user: str) -> list[tuple]:
    rows = await pg.fetch(
        f"SELECT {', '.join(COMPARED)} FROM {table} WHERE user_id = $1 ORDER BY session_start",
        user,
    )
    return [tuple(row) for row in rows]


def expected_sessions(facts: pd.DataFrame) -> list[tuple]:
    sessions = build_sessions(facts, RULES).sort_values("session_start")
    return [
        (row.session_id, row.session_start.to_pydatetime(), row.session_end.to_pydatetime(),
         row.event_count)
        for row in sessions.itertuples()
    ]  # fmt: skip


async def test_a_promotion_waits_for_the_spark_batch_rebuilding_its_user(settings, pg, unique):
    stream, user = f"locks-{unique}", f"locks-{unique}"
    received = a_moment(unique, 2003)
    # A fallback fact awaits promotion; a Spark batch brings a later fact of the same session.
    await add_fact(pg, "fact_user_event_fallback", user, received, received)
    await add_fact(pg, "spark_incoming_facts", user, received + timedelta(minutes=1), received,
                   stream=stream, batch_id=0, kafka_topic="user_click_log", kafka_partition=0,
                   kafka_offset=0)  # fmt: skip
    spark = await asyncpg.connect(settings.database_url)
    pool = PostgresPool(settings.database_url)
    try:
        events, latest = await batch_store.merge_facts(
            [spark], stream, 0, RULES.inactivity_gap_seconds
        )
        # What Spark's JDBC read sees, and the sessions it builds from it.
        rows = await spark.fetch(batch_store.facts_of_stream_users_query(stream))
        facts = pd.DataFrame([tuple(row) for row in rows], columns=list(SESSION_INPUT_COLUMNS))
        facts["occurred_at"] = pd.to_datetime(facts["occurred_at"], utc=True)
        await spark.copy_records_to_table(
            "spark_incoming_sessions",
            records=((*r, "spark", stream, 0)
                     for r in frame_records(build_sessions(facts, RULES), SESSION_COLUMNS)),
            columns=(*SESSION_COLUMNS, "source_flag", "stream", "batch_id"),
        )  # fmt: skip
        promotion = asyncio.create_task(
            promote(pool, RULES, "test", since=received, until=received + timedelta(seconds=1))
        )
        waited = await wait_for_lock_or_end(pg, promotion, "dim_session")
        await batch_store.commit_batch(spark, stream, 0, {(stream, 0): (0, 1)}, events, 0, latest)
        outcome = await promotion
    finally:
        await spark.close()
        await pool.close()
        for table in ("spark_batches", "spark_offsets"):
            await pg.execute(f"DELETE FROM {table} WHERE stream = $1", stream)
    assert outcome.facts == 1
    all_facts = await read_facts_of_users(pg, "fact_user_event", [user])
    assert len(all_facts) == 2
    assert await sessions_of(pg, "dim_session", user) == expected_sessions(all_facts)
    assert waited


async def test_a_fallback_run_waits_for_a_rebuild_of_its_users(settings, pg, unique):
    user = f"locks-{unique}"
    received = a_moment(unique, 2004)
    await partitions_for_days(pg, received, received + timedelta(minutes=2))
    for minute in (0, 2):
        await pg.execute(
            "INSERT INTO stg_user_logs (event_id, event_type, user_id, occurred_at, received_at, "
            "schema_version, context, payload, kafka_topic, kafka_partition, kafka_offset) "
            "VALUES ($1, 'click', $2, $3, $3, 1, '{}', '{\"element\": \"x\"}', "
            "'user_click_log', 0, $4)",
            uuid.uuid4(), user, received + timedelta(minutes=minute),
            int(unique, 16) % 10**12 + minute,
        )  # fmt: skip
    holder = await asyncpg.connect(settings.database_url)
    runner = await asyncpg.connect(settings.database_url)
    try:
        rebuild = holder.transaction()
        await rebuild.start()
        await session_locks.lock_for_transaction(holder, "dim_session_fallback", [user])
        run = asyncio.create_task(
            build_fallback(runner, RULES, received, received + timedelta(minutes=3))
        )
        waited = await wait_for_lock_or_end(pg, run, "dim_session_fallback")
        await rebuild.rollback()
        result = await run
    finally:
        await holder.close()
        await runner.close()
    assert waited, "the fallback run rebuilt sessions another rebuild held"
    assert result.sessions == 1
    facts = await read_facts_of_users(pg, "fact_user_event_fallback", [user])
    assert await sessions_of(pg, "dim_session_fallback", user) == expected_sessions(facts)


def test_users_hash_to_buckets_taken_in_ascending_order():
    buckets = session_locks.lock_buckets(f"user-{n}" for n in range(10_000))
    assert buckets == sorted(set(buckets))
    assert len(buckets) == session_locks.BUCKETS
    assert session_locks.lock_buckets(["a", "a"]) == session_locks.lock_buckets(["a"])
