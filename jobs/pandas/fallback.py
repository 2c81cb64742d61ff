"""The pandas fallback: staged events of a received_at range → fact_user_event_fallback and
dim_session_fallback (source_flag 'pandas'), in chunks so a million events fit in modest memory.
The sessions of the range's users are rebuilt from a bound, as the Spark stream's are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import orjson
import pandas as pd

from jobs import session_locks
from jobs.model_columns import SESSION_INPUT_COLUMNS
from jobs.model_store import (
    FactRows,
    fact_rows,
    insert_fact_rows,
    read_valid_facts_from,
    replace_sessions_from,
    session_bounds,
)
from jobs.pandas.events_frame import staged_frame
from jobs.pandas.transforms import build_facts, build_sessions
from jobs.rules import Rules
from jobs.stored_event import EVENT_FIELD_NAMES, EVENT_FIELDS

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
    events, new_facts, earliest = await write_facts(
        connection, rules, since, until, chunk_size, lambda done: progress(done, total)
    )
    sessions = 0
    for start in range(0, len(earliest), user_chunk_size):
        users = earliest.iloc[start : start + user_chunk_size]
        sessions += await rebuild_sessions(connection, rules, users)
    return FallbackResult(events, new_facts, sessions)


async def write_facts(
    connection: asyncpg.Connection,
    rules: Rules,
    since: datetime,
    until: datetime,
    chunk_size: int,
    progress: Callable[[int], None],
) -> tuple[int, int, pd.Series]:
    """Build and insert the facts of the range's staged events; returns how many events there
    were, how many facts were new, and each user's earliest event (in user order)."""
    events = new_facts = 0
    rows: FactRows = []  # built, not yet inserted
    firsts: list[pd.Series] = []  # per chunk, each user's earliest event
    async for chunk in staged_chunks(connection, since, until, chunk_size):
        inserted, rows, first = await insert_while_building(connection, rows, chunk, rules)
        new_facts += inserted
        firsts.append(first)
        events += len(chunk)
        progress(events)
    new_facts += await insert_fact_rows(connection, rows, FACTS)
    earliest = pd.concat(firsts).groupby(level=0).min() if firsts else pd.Series()
    return events, new_facts, earliest


async def insert_while_building(
    connection: asyncpg.Connection, rows: FactRows, chunk: pd.DataFrame, rules: Rules
) -> tuple[int, FactRows, pd.Series]:
    """Insert the last chunk's rows while a thread builds this chunk's (chunk_rows): the
    server's work and Python's overlap."""
    building = asyncio.create_task(asyncio.to_thread(chunk_rows, chunk, rules))
    try:
        inserted = await insert_fact_rows(connection, rows, FACTS)
    except BaseException:
        building.cancel()
        raise
    return inserted, *await building


def chunk_rows(chunk: pd.DataFrame, rules: Rules) -> tuple[FactRows, pd.Series]:
    """A chunk's fact rows, and each of its users' earliest event."""
    facts = build_facts(staged_frame(chunk), rules)
    return fact_rows(facts, "pandas"), facts.groupby("user_id")["occurred_at"].min()


async def rebuild_sessions(
    connection: asyncpg.Connection, rules: Rules, earliest: pd.Series
) -> int:
    """Rebuild the sessions of these users (`earliest`: each one's earliest new event) from
    their bounds on, holding their session locks from before the bounds are read until the new
    sessions are committed."""
    async with connection.transaction():
        await session_locks.lock_for_transaction(connection, SESSIONS, earliest.index)
        bounds = await session_bounds(
            connection, SESSIONS, earliest_new(earliest), rules.inactivity_gap_seconds
        )
        facts = await read_valid_facts_from(connection, FACTS, bounds, SESSION_INPUT_COLUMNS)
        rebuilt = build_sessions(facts, rules)
        return await replace_sessions_from(connection, rebuilt, bounds, SESSIONS, "pandas")


def earliest_new(earliest: pd.Series) -> dict[str, datetime]:
    return dict(zip(earliest.index, earliest.array.to_pydatetime(), strict=True))


async def staged_chunks(
    connection: asyncpg.Connection, since: datetime, until: datetime, chunk_size: int
) -> AsyncIterator[pd.DataFrame]:
    """Stored events from staging, a chunk at a time through a server-side cursor."""
    async with connection.transaction():
        cursor = await connection.cursor(STAGED_EVENTS, since, until)
        while rows := await cursor.fetch(chunk_size):
            yield staged_columns(rows)


def staged_columns(rows: list[asyncpg.Record]) -> pd.DataFrame:
    """Staging rows as columns, the objects decoded, each value as read: staged_frame types
    them."""
    columns = {name: [row[index] for row in rows] for index, name in enumerate(EVENT_FIELD_NAMES)}
    for name in OBJECT_FIELDS:
        columns[name] = [orjson.loads(text) for text in columns[name]]
    return pd.DataFrame(columns, dtype=object)
