"""The analysts' login reads the `analytics` schema and nothing else, and writes nowhere."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from app.db.postgres import PostgresPool
from app.ops.analytics_role import ensure_analytics_role
from app.serving.dashboard import DASHBOARD

ANALYTICS_VIEWS = {
    "movies", "movie_genres", "movie_daily_activity", "user_daily_activity",
    "daily_active_users", "emotions_per_day", "sessions", "session_events",
    "fallback_awaiting_promotion", "audit_completeness", "audit_findings",
}  # fmt: skip
DENIED = (asyncpg.InsufficientPrivilegeError, asyncpg.ReadOnlySQLTransactionError)


@pytest.fixture
async def analyst(settings):
    pool = PostgresPool(settings.database_url)
    try:
        password = settings.analytics_password.get_secret_value()
        await ensure_analytics_role(pool, settings.analytics_role, password)
        await ensure_analytics_role(pool, settings.analytics_role, password)  # idempotent
    finally:
        await pool.close()
    parts = urlsplit(settings.database_url)
    netloc = f"{settings.analytics_role}@{parts.hostname}:{parts.port}"
    connection = await asyncpg.connect(urlunsplit(parts._replace(netloc=netloc)), password=password)
    try:
        yield connection
    finally:
        await connection.close()


async def test_the_analyst_reads_every_analytics_view(analyst):
    assert await analyst.fetchval("SELECT current_user") != "movies"
    for view in ANALYTICS_VIEWS:
        await analyst.fetch(f"SELECT * FROM analytics.{view} LIMIT 1")


@pytest.mark.parametrize("card", DASHBOARD.cards, ids=lambda card: card.name)
async def test_the_analyst_runs_every_card_of_the_dashboard(analyst, card):
    """Metabase runs these as the analysts' login: each must read only what it may."""
    await analyst.fetch(card.sql)


@pytest.mark.parametrize(
    "table",
    [
        "stg_user_logs",
        "stg_comments",
        "fact_user_event",
        "rollup_day",
        "spark_batches",
        "audit.findings",
        "audit.acknowledged",
    ],
)
async def test_the_analyst_cannot_read_staging_or_bookkeeping(analyst, table):
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await analyst.fetch(f"SELECT * FROM {table} LIMIT 1")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO analytics.movies (movie_id, title) VALUES (1, 'x')",
        "DELETE FROM analytics.sessions",
        "INSERT INTO stg_user_logs (event_id) VALUES (gen_random_uuid())",
        "UPDATE dim_movie SET title = 'x'",
        "CREATE TABLE analytics.scratch (x int)",
        "CREATE TABLE public.scratch (x int)",
        "CREATE VIEW analytics.mine AS SELECT 1",
        "SET default_transaction_read_only = off; CREATE TABLE public.scratch2 (x int)",
    ],
)
async def test_the_analyst_writes_nowhere(analyst, statement):
    with pytest.raises(DENIED):
        await analyst.execute(statement)


async def test_every_analytics_relation_and_column_is_commented(pg):
    uncommented = await pg.fetch(
        """
        SELECT c.relname, a.attname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'analytics'
          AND (obj_description(c.oid, 'pg_class') IS NULL
               OR (a.attname IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))
        """
    )
    assert uncommented == []
    views = await pg.fetch(
        "SELECT table_name FROM information_schema.views WHERE table_schema = 'analytics'"
    )
    assert {row["table_name"] for row in views} == ANALYTICS_VIEWS
