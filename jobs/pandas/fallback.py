"""The pandas fallback: staged events of a received_at range → fact_user_event_fallback and
dim_session_fallback (source_flag 'pandas'), in chunks so a million events fit in modest memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import orjson

from jobs import session_locks
from jobs.model_store import insert_facts, read_facts_of_users, replace_sessions
from jobs.pandas.events_frame import staged_frame
from jobs.pandas.transforms import build_facts, build_sessions
from jobs.rules import Rules
from jobs.stored_event import EVENT_FIELDS

FACTS, SESSIONS = "fact_user_event_fallback", "dim_session_fallback"
STAGED_COLUMNS = ", ".join(
    f"{field.name}::text AS {field.name}" if field.kind == "uuid" else field.name
    for field in EVENT_FIELDS
)
STAGED_EVENTS = f"""
    SELECT {STAGED_COLUMNS}
    FROM stg_user_logs WHERE received_at >= $1 AND received_at < $2
    ORDER BY received_at, event_id
"""
OBJECT_FIELDS = tuple(field.name for field in EVENT_FIELDS if field.kind == "object")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FallbackResult:
    events: int
    new_facts: int
    sessions: int


async def count_staged(connection: asyncpg.Connection, since: datetime, until: datetime) -> int:
    return await connection.fetchval(
        "SELECT count(*) FROM stg_user_logs WHERE received_at >= $1 AND received_at < $2",
        since,
        until,
    )


async def build_fallback(
    connection: asyncpg.Connection,
    rules: Rules,
    since: datetime,
    until: datetime,
    chunk_size: int = 50_000,
    user_chunk_size: int = 5_000,
    progress: Progress = lambda done, total: None,
) -> FallbackResult:
    total = await count_staged(connection, since, until)
    events = new_facts = 0
    users: set[str] = set()
    async for chunk in staged_chunks(connection, since, until, chunk_size):
        facts = build_facts(staged_frame(chunk), rules)
        new_facts += await insert_facts(connection, facts, FACTS, "pandas")
        users.update(facts["user_id"])
        events += len(chunk)
        progress(events, total)
    sessions = 0
    ordered = sorted(users)
    for start in range(0, len(ordered), user_chunk_size):
        user_ids = ordered[start : start + user_chunk_size]
        async with connection.transaction():
            await session_locks.lock_for_transaction(connection, SESSIONS, user_ids)
            user_facts = await read_facts_of_users(connection, FACTS, user_ids)
            rebuilt = build_sessions(user_facts, rules)
            sessions += await replace_sessions(connection, rebuilt, user_ids, SESSIONS, "pandas")
    return FallbackResult(events, new_facts, sessions)


async def staged_chunks(
    connection: asyncpg.Connection, since: datetime, until: datetime, chunk_size: int
) -> AsyncIterator[list[dict]]:
    """Stored events from staging, a chunk at a time through a server-side cursor."""
    async with connection.transaction():
        cursor = await connection.cursor(STAGED_EVENTS, since, until)
        while rows := await cursor.fetch(chunk_size):
            yield [
                {
                    **dict(row),
                    **{name: orjson.loads(row[name]) for name in OBJECT_FIELDS},
                }
                for row in rows
            ]
