"""Erasing one user: every row of theirs in MongoDB and PostgreSQL, the rollups that counted
them, and a listing that keeps their events still in Kafka from coming back.

The order is what makes it complete while the pipeline runs:
1. MongoDB lists the user, then their backups are deleted. The backup consumer checks the list
   after each write, so whatever it wrote before the listing is deleted here, and after it by
   the consumer itself.
2. PostgreSQL lists the user, with an audit row. Every writer of user rows checks the list in
   its writing transaction (jobs/forgotten_users.py).
3. The erasure waits until every transaction begun before that listing has ended: one that
   missed the list has committed by then, so the deletion sees its rows.
4. One transaction deletes the user's rows, rebuilds the rollups of their days, and completes
   the audit row. It holds fact inserts back meanwhile, as a rollup rebuild does.
Running it again is safe, and finishes what a stopped run began.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
import orjson
from pymongo.asynchronous.database import AsyncDatabase

from app.bootstrap import Resources
from jobs.forgotten_users import user_hash

# Every table holding rows of a user, each by its user_id column. The incoming tables are
# Spark's, between its JDBC write and the merge.
USER_TABLES = (
    "stg_user_logs",
    "stg_comments",
    "event_id_conflicts",
    "fact_user_event",
    "fact_user_event_fallback",
    "dim_session",
    "dim_session_fallback",
    "rollup_user_day",
    "rollup_user_movie_day",
    "spark_incoming_facts",
    "spark_incoming_sessions",
    "spark_session_bounds",
)
# The audit's ledgers hold a user only as user_hash(); what they count goes with the rows.
AUDIT_TABLES = ("audit.acknowledged", "audit.backed_up")
RAW = "raw user_logs"
ROLLUP_DAYS = "rollup days rebuilt"
OLDER_TRANSACTIONS = """
    SELECT pid, coalesce(nullif(application_name, ''), 'unnamed') AS application
    FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend'
      AND pid <> pg_backend_pid() AND xact_start < $1
"""


class ErasureBlocked(RuntimeError):
    """Transactions begun before the listing are still open: the deletion could miss rows."""


@dataclass(frozen=True)
class ErasureOutcome:
    user_hash: str  # hex
    rows: dict[str, int]  # removed (or, for a dry run, that would be), per store
    dry_run: bool


async def forget_user(
    resources: Resources,
    user_id: str,
    requested_by: str,
    *,
    dry_run: bool = False,
    wait_seconds: float = 600.0,
    say: Callable[[str], None] = lambda line: None,
) -> ErasureOutcome:
    digest = user_hash(user_id)
    raw = resources.mongo[resources.settings.mongo_database]
    if dry_run:
        return ErasureOutcome(digest.hex(), await count_rows(resources, raw, user_id), dry_run=True)
    await raw.forgotten_users.update_one(
        {"_id": digest.hex()}, {"$setOnInsert": {"forgotten_at": datetime.now(UTC)}},
        upsert=True,
    )  # fmt: skip
    removed = {RAW: (await raw.user_logs.delete_many({"user_id": user_id})).deleted_count}
    async with resources.postgres.connection() as connection:
        erasure_id, listed_at = await list_user(connection, digest, requested_by)
        await wait_for_older_transactions(connection, listed_at, wait_seconds, say)
        async with connection.transaction():
            removed |= await delete_rows(connection, user_id)
        # Apart, with no lock held: they go through the ledgers' hash indexes on the digest.
        removed |= await delete_audit_rows(connection, digest)
        async with connection.transaction():
            await connection.execute(
                "UPDATE erasures SET finished_at = now(), rows_removed = $2::jsonb "
                "WHERE erasure_id = $1",
                erasure_id,
                orjson.dumps(removed).decode(),
            )
    return ErasureOutcome(digest.hex(), removed, dry_run=False)


async def list_user(
    connection: asyncpg.Connection, digest: bytes, requested_by: str
) -> tuple[int, datetime]:
    """Lists the user and opens the audit row; returns it and a time after the commit."""
    async with connection.transaction():
        await connection.execute(
            "INSERT INTO forgotten_users (user_hash) VALUES ($1) ON CONFLICT DO NOTHING", digest
        )
        erasure_id = await connection.fetchval(
            "INSERT INTO erasures (user_hash, requested_by) VALUES ($1, $2) RETURNING erasure_id",
            digest,
            requested_by,
        )
    return erasure_id, await connection.fetchval("SELECT clock_timestamp()")


async def wait_for_older_transactions(
    connection: asyncpg.Connection, listed_at: datetime, seconds: float, say: Callable[[str], None]
) -> None:
    deadline, said = time.monotonic() + seconds, False
    while older := await connection.fetch(OLDER_TRANSACTIONS, listed_at):
        if time.monotonic() > deadline:
            holders = ", ".join(f"{row['application']} (pid {row['pid']})" for row in older)
            raise ErasureBlocked(
                f"after {seconds:g} s, transactions begun before the listing are still open: "
                f"{holders}. End them, or run forget-user again later; nothing was deleted "
                "from PostgreSQL yet, and the user is already listed."
            )
        if not said:
            say(f"waiting for {len(older)} transactions begun before the listing to end")
            said = True
        await asyncio.sleep(0.2)


async def delete_rows(connection: asyncpg.Connection, user_id: str) -> dict[str, int]:
    """In the caller's transaction: the user's rows, then the rollups of the days they had."""
    # As rebuild_rollups() does, and first: no fact is counted by the trigger meanwhile.
    await connection.execute("LOCK TABLE fact_user_event IN SHARE MODE")
    days: list[date] = await connection.fetchval(
        "SELECT coalesce(array_agg(DISTINCT event_date), '{}') FROM fact_user_event "
        "WHERE user_id = $1",
        user_id,
    )
    removed = {}
    for table in USER_TABLES:
        status = await connection.execute(f"DELETE FROM {table} WHERE user_id = $1", user_id)
        removed[table] = int(status.rsplit(" ", 1)[-1])
    await connection.execute(
        "SELECT rebuild_rollups(day, day) FROM unnest($1::date[]) AS day", days
    )
    return removed | {ROLLUP_DAYS: len(days)}


async def delete_audit_rows(connection: asyncpg.Connection, digest: bytes) -> dict[str, int]:
    removed = {}
    for table in AUDIT_TABLES:
        status = await connection.execute(f"DELETE FROM {table} WHERE user_hash = $1", digest)
        removed[table] = int(status.rsplit(" ", 1)[-1])
    return removed


async def count_rows(resources: Resources, raw: AsyncDatabase, user_id: str) -> dict[str, int]:
    counts = {RAW: await raw.user_logs.count_documents({"user_id": user_id})}
    async with resources.postgres.connection() as connection:
        for table in USER_TABLES:
            counts[table] = await connection.fetchval(
                f"SELECT count(*) FROM {table} WHERE user_id = $1", user_id
            )
        for table in AUDIT_TABLES:
            counts[table] = await connection.fetchval(
                f"SELECT count(*) FROM {table} WHERE user_hash = $1", user_hash(user_id)
            )
        counts[ROLLUP_DAYS] = await connection.fetchval(
            "SELECT count(DISTINCT event_date) FROM fact_user_event WHERE user_id = $1", user_id
        )
    return counts
