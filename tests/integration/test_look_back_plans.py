"""The writers that look back for earlier copies (staging, the audit's ledgers) plan each
statement with the look-back's start, run after run. A generic plan, PostgreSQL's choice after
five runs of a prepared statement, hashed every row received since: over a second a batch once
the partitions held a day's events, where planning with the value probes the key's index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.audit.id_ledger import LedgerEntry, record_entries
from app.consumers.postgres_staging import PostgresStagingSink
from app.db.postgres import PostgresPool
from tests.event_factory import new_event
from tests.integration.test_staging_partitions import received

RUNS = 8
PLANS = (
    "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
    "WHERE statement LIKE $1 AND NOT from_sql AND statement NOT LIKE '%pg_prepared_statements%'"
)


def over_three_days(now: datetime, count: int) -> list[datetime]:
    """Event times whose look-back spans four daily partitions."""
    return [now - n * timedelta(minutes=9) for n in range(count)]


async def test_redeliveries_are_planned_with_the_look_backs_start(settings, unique):
    """A redelivered batch takes the INSERT path. Run after run, each statement is planned with
    the look-back's start: a generic plan (PostgreSQL's choice after five runs) hashed every
    row received since, over a second a batch once the partitions held a day's events."""
    now = datetime.now(UTC)
    events = [
        new_event("click", f"cy-{unique}-{n}", occurred_at=at.isoformat())
        for n, at in enumerate(over_three_days(now, 500))
    ]
    batch = [received(event, now, "user_click_log") for event in events]
    pool = PostgresPool(settings.database_url, max_size=1)  # every write on one connection
    sink = PostgresStagingSink(pool)
    try:
        for _ in range(RUNS):
            assert await sink.write(batch) == {}
        async with pool.connection() as connection:
            plans = await connection.fetch(PLANS, "%INSERT INTO stg_user_logs%NOT EXISTS%")
    finally:
        await pool.close()
    assert [tuple(plan) for plan in plans] == [(0, RUNS - 1)]  # the first write was a COPY


async def test_ledger_rewrites_are_planned_with_the_look_backs_start(pg):
    now = datetime.now(UTC)
    entries = [
        LedgerEntry(str(uuid.uuid4()), "click", now, "ana", occurred_at=at)
        for at in over_three_days(now, 500)
    ]
    try:
        async with pg.transaction():
            for _ in range(RUNS):
                await record_entries(pg, "audit.acknowledged", entries)
            plans = await pg.fetch(PLANS, "%INSERT INTO audit.acknowledged%NOT EXISTS%")
    finally:
        ids = [entry.event_id for entry in entries]
        await pg.execute("DELETE FROM audit.acknowledged WHERE event_id = ANY($1::uuid[])", ids)
    assert [tuple(plan) for plan in plans] == [(0, RUNS - 1)]
