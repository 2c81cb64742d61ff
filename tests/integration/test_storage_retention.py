"""A retention run on 40 days of data: staging's days (and the audit's ledgers by id) older than
the retention are dropped whole, and the rollups, the API's answers over all 40 days and the
audit are as they were; the run is recorded and shown in /status."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from alembic import command

from app.audit.id_ledger import LedgerEntry, record_entries
from app.audit.reconciler import reconcile
from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.records import SourceRecord, decode_event
from app.db.partitions import (
    EXPIRING,
    PARTITIONED,
    ensure_partitions,
    missing_starts,
    partitions,
)
from app.db.postgres import PostgresPool
from app.ops.prestart import alembic_config
from app.ops.storage_upkeep import storage_upkeep
from tests.event_factory import new_event
from tests.integration.serving_support import api_client, insert_facts, new_catalogue
from tests.integration.test_pipeline_status import get_status, service

DAYS, PER_DAY, RETENTION_DAYS = 40, 8, 30
# What the audit has: its counts per minute and stage, its verdicts, its findings.
AUDIT = {
    "ledger": "SELECT stage, window_start, event_type, events FROM audit.ledger ORDER BY 1, 2, 3",
    "windows": "SELECT window_start, acknowledged, accounted, open_findings FROM audit.windows "
    "ORDER BY 1",
    "findings": "SELECT stage, window_start, kind, events FROM audit.findings ORDER BY 1, 2, 3",
}


def forty_days(now: datetime, movie_ids: list[int], users: list[str]) -> list[dict[str, Any]]:
    rng, events = random.Random(40), []
    for day in range(DAYS):
        for n in range(PER_DAY):
            occurred = now - timedelta(days=day, hours=1 + n, minutes=rng.randrange(50))
            kind = ("watch", "click", "comment")[n % 3]
            event = new_event(kind, rng.choice(users), occurred_at=occurred.isoformat())
            event["movie_id"] = rng.choice(movie_ids)
            event["received_at"] = (occurred + timedelta(seconds=2)).isoformat()
            events.append(event)
    return events


def as_fact(event: dict[str, Any]) -> tuple[Any, ...]:
    occurred = datetime.fromisoformat(event["occurred_at"])
    comment = event["event_type"] == "comment"
    return (
        uuid.UUID(event["event_id"]), event["event_type"], event["user_id"], event["movie_id"],
        occurred, datetime.fromisoformat(event["received_at"]), occurred.date(), occurred.hour,
        "progress" if event["event_type"] == "watch" else None,
        61.5 if event["event_type"] == "watch" else None, False,
        7.5 if comment else None, "positive" if comment else None, 0.4 if comment else None,
        "joy" if comment else None, True, "test:1", "spark",
    )  # fmt: skip


async def store(url: str, events: list[dict[str, Any]]) -> None:
    """As the pipeline's writers would have: staged, acknowledged and backed up, modelled."""
    pool = PostgresPool(url)
    try:
        records = [
            decode_event(SourceRecord(
                f"user_{e['event_type']}_log", 0, n, b"k",
                orjson.dumps({**e, "schema_version": 1}),
            ))
            for n, e in enumerate(events)
        ]  # fmt: skip
        assert await PostgresStagingSink(pool).write(records) == {}
        entries = [
            LedgerEntry(e["event_id"], e["event_type"], datetime.fromisoformat(e["received_at"]),
                        e["user_id"])
            for e in events
        ]  # fmt: skip
        async with pool.connection() as connection:
            for ledger in ("audit.acknowledged", "audit.backed_up"):
                await record_entries(connection, ledger, entries)
            await insert_facts(connection, [as_fact(event) for event in events])
    finally:
        await pool.close()


async def answers(client, catalogue, now: datetime) -> list[Any]:
    days = {"since": (now - timedelta(days=DAYS)).date().isoformat(),
            "until": now.date().isoformat()}  # fmt: skip
    paths = [
        ("/api/top_movies", days),
        ("/api/top_movies", {**days, "metric": "comments"}),
        ("/api/emotion_trends", days),
        *((f"/api/user_stats/{user}", days) for user in catalogue.users),
    ]
    bodies = []
    for path, params in paths:
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    return bodies


async def audit_state(connection: asyncpg.Connection) -> dict[str, list]:
    return {name: [tuple(r) for r in await connection.fetch(q)] for name, q in AUDIT.items()}


async def test_a_retention_run_drops_old_days_and_changes_no_answer(
    settings, scratch_database, unique
):
    alembic_url = scratch_database.replace("postgresql://", "postgresql+asyncpg://", 1)
    await asyncio.to_thread(command.upgrade, alembic_config(alembic_url), "head")
    scratch = settings.model_copy(
        update={"database_url": scratch_database, "staging_retention_days": RETENTION_DAYS}
    )
    now = datetime.now(UTC)
    connection = await asyncpg.connect(scratch_database)
    pool = PostgresPool(scratch_database)
    try:
        for table in PARTITIONED:  # as the scheduler would have added them over 40 days
            await ensure_partitions(connection, table, now - timedelta(days=DAYS), now)
        catalogue = await new_catalogue(connection, unique)
        events = forty_days(now, catalogue.movie_ids, catalogue.users)
        await store(scratch_database, events)
        minutes = sorted({
            datetime.fromisoformat(e["received_at"]).replace(second=0, microsecond=0)
            for e in events
        })  # fmt: skip
        checked = await reconcile(pool, scratch, now=now, windows=minutes)
        assert [c for c in checked if c.findings] == []
        audit_before = await audit_state(connection)
        async with api_client(scratch) as client:
            answers_before = await answers(client, catalogue, now)
        staged_before = await connection.fetchval("SELECT count(*) FROM stg_user_logs")
        facts = "SELECT count(*) FROM fact_user_event"
        assert await connection.fetchval(facts) == len(events)
        await connection.execute("ANALYZE")  # the run counts what it drops by the statistics
        partitions_before = [p for t in EXPIRING for p in await partitions(connection, t)]

        run = await storage_upkeep(pool, scratch, now)

        cutoff = (now - timedelta(days=RETENTION_DAYS)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        assert run.kept_since == cutoff
        ahead = now + timedelta(days=scratch.partitions_ahead_days)
        for table in PARTITIONED:  # the coming week added ahead of the writes
            assert missing_starts(table, await partitions(connection, table), now, ahead) == []
        assert len(run.added) == len(EXPIRING) * scratch.partitions_ahead_days
        assert sorted(run.dropped) == sorted(p.name for p in partitions_before if p.upper <= cutoff)
        assert len(run.dropped) == len(EXPIRING) * (DAYS - RETENTION_DAYS)
        for table in EXPIRING:
            assert all(p.upper > cutoff for p in await partitions(connection, table))
        expired = [e for e in events if datetime.fromisoformat(e["received_at"]) < cutoff]
        assert expired, "the 40 days reach past the retention"
        assert await connection.fetchval("SELECT count(*) FROM stg_user_logs") == (
            staged_before - len(expired)
        )
        comments = sum(e["event_type"] == "comment" for e in expired)
        assert run.rows_dropped == 3 * len(expired) + comments  # staging and the two ledgers

        assert await connection.fetchval(facts) == len(events), "the model keeps its facts"
        async with api_client(scratch) as client:
            assert await answers(client, catalogue, now) == answers_before
        assert await reconcile(pool, scratch, now=now, windows=minutes)  # the days kept
        assert await audit_state(connection) == audit_before
        async with service(scratch, refresh_seconds=0) as ops:
            shown = (await get_status(ops))["storage"]
        assert shown["dropped"] == run.dropped
        assert datetime.fromisoformat(shown["kept_since"]) == cutoff
    finally:
        await pool.close()
        await connection.close()
