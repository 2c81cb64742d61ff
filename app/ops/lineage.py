"""Where one event is: its Kafka coordinates, the raw backup, staging, the model or the
fallback and its session, and its dead letters, each read from the store that holds it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.bootstrap import Resources
from app.consumers.dead_letter import DeadLetter, read_dead_letters

# Dead letters are found by reading the topic: bounded, since a trace is a question asked by
# hand, not a scan that may run for an hour.
MAX_DEAD_LETTERS_READ = 200_000

FACT = """
    SELECT event_type, user_id, occurred_at, received_at, is_valid, invalid_reason,
           rules_version, source_flag, processed_at
    FROM {table} WHERE event_id = $1
"""
SESSION = """
    SELECT session_id, session_start, session_end, event_count, source_flag
    FROM {table} WHERE user_id = $1 AND session_start <= $2 AND session_end >= $2
    ORDER BY session_start DESC LIMIT 1
"""


@dataclass(frozen=True)
class EventTrace:
    event_id: str
    raw: dict[str, Any] | None  # the MongoDB backup, with the Kafka coordinates it came from
    staged: asyncpg.Record | None
    comment_staged: bool
    fact: asyncpg.Record | None
    session: asyncpg.Record | None
    fallback_fact: asyncpg.Record | None
    fallback_session: asyncpg.Record | None
    dead_letters: list[DeadLetter]

    @property
    def found_anywhere(self) -> bool:
        stores = (self.raw, self.staged, self.fact, self.fallback_fact)
        return any(store is not None for store in stores) or bool(self.dead_letters)


async def trace_event(resources: Resources, event_id: uuid.UUID) -> EventTrace:
    settings = resources.settings
    raw = await resources.mongo[settings.mongo_database].user_logs.find_one(
        {"_id": str(event_id)}, {"payload": 0, "context": 0}
    )
    async with resources.postgres.connection() as connection:
        staged = await connection.fetchrow(
            "SELECT event_type, user_id, session_id, occurred_at, received_at, kafka_topic, "
            "kafka_partition, kafka_offset FROM stg_user_logs WHERE event_id = $1",
            event_id,
        )
        comment = await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM stg_comments WHERE event_id = $1)", event_id
        )
        fact, session = await fact_and_session(
            connection, event_id, "fact_user_event", "dim_session"
        )
        fallback_fact, fallback_session = await fact_and_session(
            connection, event_id, "fact_user_event_fallback", "dim_session_fallback"
        )
    holding = str(event_id).encode()
    dead_letters = await read_dead_letters(
        settings.kafka_bootstrap_servers, settings.dead_letter_topic,
        lambda letter: holding in letter.value, MAX_DEAD_LETTERS_READ,
    )  # fmt: skip
    return EventTrace(
        str(event_id), raw, staged, comment, fact, session, fallback_fact, fallback_session,
        dead_letters,
    )  # fmt: skip


async def fact_and_session(
    connection: asyncpg.Connection, event_id: uuid.UUID, facts: str, sessions: str
) -> tuple[asyncpg.Record | None, asyncpg.Record | None]:
    """The event's fact in `facts` and the session of `sessions` it falls in."""
    fact = await connection.fetchrow(FACT.format(table=facts), event_id)
    if fact is None:
        return None, None
    session = await connection.fetchrow(
        SESSION.format(table=sessions), fact["user_id"], fact["occurred_at"]
    )
    return fact, session
