"""Reading the stores back: where did the events with these ids land, and how often."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
from pymongo import AsyncMongoClient

from app.config import Settings


@dataclass(frozen=True)
class Landed:
    mongo: int
    staged: int
    staged_distinct: int
    comments: int


RECEIVED_LAST_HOUR = (
    "received_at > now() - interval '1 hour' AND received_at < now() + interval '1 hour'"
)


async def count_landed(settings: Settings, event_ids: Iterable[str]) -> Landed:
    ids = list(event_ids)
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)
    try:
        mongo = await client[settings.mongo_database].user_logs.count_documents(
            {"_id": {"$in": ids}}
        )
    finally:
        await client.close()
    connection = await asyncpg.connect(settings.database_url)
    try:
        uuids = [uuid.UUID(i) for i in ids]
        # Only the partitions of the last hour: the events were received during the test, and
        # a poll through every day's partition costs the stores seconds of CPU, taken from the
        # writers it waits for.
        staged, distinct = await connection.fetchrow(
            "SELECT count(*), count(DISTINCT event_id) FROM unnest($1::uuid[]) AS i (event_id) "
            f"JOIN stg_user_logs USING (event_id) WHERE {RECEIVED_LAST_HOUR}",
            uuids,
        )
        comments = await connection.fetchval(
            "SELECT count(*) FROM unnest($1::uuid[]) AS i (event_id) "
            f"JOIN stg_comments USING (event_id) WHERE {RECEIVED_LAST_HOUR}",
            uuids,
        )
    finally:
        await connection.close()
    return Landed(mongo, staged, distinct, comments)


async def wait_until_landed(
    settings: Settings, event_ids: Iterable[str], expected_comments: int, limit_seconds: float = 60
) -> Landed:
    """Poll until every event is in both stores (or the limit passes); returns the last count."""
    ids = list(event_ids)
    deadline = time.monotonic() + limit_seconds
    while True:
        landed = await count_landed(settings, ids)
        complete = landed.mongo == len(ids) and landed.staged == len(ids)
        if (complete and landed.comments == expected_comments) or time.monotonic() > deadline:
            return landed
        await asyncio.sleep(0.5)
