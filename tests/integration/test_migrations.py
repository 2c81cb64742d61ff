"""Alembic against a throwaway database: upgrade head, then downgrade base, both for real; and
the upgrade that partitions staging, on rows already there."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic import command

from app.ops.prestart import alembic_config

STAGING_TABLES = {"stg_user_logs", "stg_comments", "stg_movies"}


async def table_comments(url: str) -> dict[str, str | None]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT c.relname, obj_description(c.oid) AS comment FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
    finally:
        await connection.close()
    return {row["relname"]: row["comment"] for row in rows}


async def test_upgrade_head_then_downgrade_base(scratch_database):
    alembic_url = scratch_database.replace("postgresql://", "postgresql+asyncpg://", 1)

    await asyncio.to_thread(command.upgrade, alembic_config(alembic_url), "head")
    tables = await table_comments(scratch_database)
    assert set(tables) >= STAGING_TABLES
    assert all(tables[name] for name in STAGING_TABLES), "staging tables carry comments"

    await asyncio.to_thread(command.downgrade, alembic_config(alembic_url), "base")
    assert set(await table_comments(scratch_database)) == {"alembic_version"}


STAGED_ROWS = """
    INSERT INTO stg_user_logs (event_id, event_type, user_id, occurred_at, received_at,
        schema_version, payload, kafka_topic, kafka_partition, kafka_offset)
    SELECT gen_random_uuid(), (ARRAY['watch', 'click', 'comment'])[i % 3 + 1], 'user-' || i % 97,
        t, t, 1, '{"text": "fine"}', 'user_click_log', 0, i
    FROM generate_series(1, $1) AS i,
        LATERAL (SELECT now() - i * interval '73 seconds') AS r (t)
"""
STAGED_COMMENTS = """
    INSERT INTO stg_comments (event_id, user_id, movie_id, comment_text, occurred_at, received_at)
    SELECT event_id, user_id, 550, 'fine', occurred_at, received_at FROM stg_user_logs
    WHERE event_type = 'comment'
"""
MODELLED_ROWS = """
    INSERT INTO fact_user_event (event_id, event_type, user_id, movie_id, occurred_at,
        received_at, event_date, event_hour, is_completed, is_valid, rules_version, source_flag)
    SELECT event_id, event_type, user_id, 550, occurred_at, received_at,
        (occurred_at AT TIME ZONE 'UTC')::date, extract(hour FROM occurred_at AT TIME ZONE 'UTC'),
        false, true, 'test:1', 'spark'
    FROM stg_user_logs
"""
SESSIONS = """
    INSERT INTO dim_session (session_id, user_id, session_start, session_end, duration_seconds,
        event_count, watch_count, click_count, comment_count, movies_watched, watch_seconds,
        rules_version, source_flag)
    SELECT user_id || ':' || min(received_at), user_id, min(received_at), max(received_at), 0,
        count(*), 0, 0, 0, 0, 0, 'test:1', 'spark'
    FROM stg_user_logs GROUP BY user_id
"""
# What must survive the upgrade: every row as it was, and the audit's counts of them.
SNAPSHOT = {
    "user_logs": "SELECT count(*), md5(string_agg(s::text, ',' ORDER BY event_id)) "
    "FROM stg_user_logs s",
    "comments": "SELECT count(*), md5(string_agg(c::text, ',' ORDER BY event_id)) "
    "FROM stg_comments c",
    "facts": "SELECT count(*), md5(string_agg(f::text, ',' ORDER BY event_id)) "
    "FROM fact_user_event f",
    "sessions": "SELECT count(*), md5(string_agg(s::text, ',' ORDER BY session_id)) "
    "FROM dim_session s",
    "rollups": "SELECT md5(string_agg(r::text, ',' ORDER BY movie_id, day)) "
    "FROM rollup_movie_day r",
    "analytics": "SELECT count(*) FROM analytics.session_events",
    "ledger": "SELECT md5(string_agg(l.stage || l.window_start || l.event_type || l.events, ',' "
    "ORDER BY l.stage, l.window_start, l.event_type)) FROM audit.ledger l",
}


async def snapshot(connection: asyncpg.Connection) -> dict[str, tuple]:
    return {name: tuple(await connection.fetchrow(query)) for name, query in SNAPSHOT.items()}


async def test_partitioning_staging_keeps_every_row_and_one_row_per_event(scratch_database):
    alembic_url = scratch_database.replace("postgresql://", "postgresql+asyncpg://", 1)
    await asyncio.to_thread(command.upgrade, alembic_config(alembic_url), "0013")
    connection = await asyncpg.connect(scratch_database)
    try:
        await connection.execute(STAGED_ROWS, 30_000)  # 25 days of receive time
        await connection.execute(STAGED_COMMENTS)
        await connection.execute(MODELLED_ROWS)
        await connection.execute(SESSIONS)
        before = await snapshot(connection)
        await asyncio.to_thread(command.upgrade, alembic_config(alembic_url), "head")
        assert await snapshot(connection) == before

        partitioned = {"stg_user_logs", "stg_comments", "fact_user_event", "dim_session"}
        kinds = dict(
            await connection.fetch(
                "SELECT relname, relkind::text FROM pg_class WHERE relname = ANY($1::text[])",
                list(partitioned),
            )
        )
        assert kinds == dict.fromkeys(partitioned, "p")
        old = await connection.fetchrow(
            "SELECT event_id, received_at FROM stg_user_logs ORDER BY received_at LIMIT 1"
        )
        duplicate = "INSERT INTO stg_user_logs SELECT * FROM stg_user_logs WHERE event_id = $1"
        with pytest.raises(asyncpg.UniqueViolationError):  # the same copy, written again
            await connection.execute(duplicate, old["event_id"])
        counted = "SELECT sum(events) FROM audit.ledger WHERE stage = 'staged'"
        assert await connection.fetchval(counted) == 30_000
        await connection.execute("INSERT INTO stg_user_logs SELECT * FROM stg_user_logs LIMIT 0")
        fresh = await connection.fetchval(
            "INSERT INTO stg_user_logs (event_id, event_type, user_id, occurred_at, received_at, "
            "schema_version, kafka_topic, kafka_partition, kafka_offset) "
            "VALUES (gen_random_uuid(), 'click', 'new', now(), now(), 1, 't', 0, 0) "
            "RETURNING tableoid::regclass::text"
        )
        assert fresh.startswith("stg_user_logs_before_"), "the day of the upgrade is covered"
        assert await connection.fetchval(counted) == 30_001, "the audit counts the parent's writes"
        events = "SELECT events FROM rollup_movie_day WHERE movie_id = 550 AND day = $1"
        today = await connection.fetchval("SELECT (now() AT TIME ZONE 'UTC')::date")
        counted_before = await connection.fetchval(events, today)
        await connection.execute(
            MODELLED_ROWS.replace("FROM stg_user_logs", "FROM stg_user_logs WHERE user_id = 'new'")
        )
        assert await connection.fetchval(events, today) == counted_before + 1, "rollups follow"
    finally:
        await connection.close()
