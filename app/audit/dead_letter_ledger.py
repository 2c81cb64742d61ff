"""The dead letters of the event consumer groups, in audit.dead_letters: recorded after they
are in the dead-letter topic and before the offsets are committed, once per group and origin,
however often a crash makes the group send the same record there again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from app.consumers.records import SourceRecord
from app.db.postgres import PostgresPool
from jobs.stored_event import EVENT_TYPES

INSERT = """
    INSERT INTO audit.dead_letters (consumer_group, origin_topic, origin_partition, origin_offset,
        event_id, event_type, received_at, reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT DO NOTHING
"""
UNKNOWN_TYPE = "unknown"


@dataclass(frozen=True)
class DeadLetterRow:
    group: str
    source: SourceRecord
    reason: str

    def values(self) -> tuple[object, ...]:
        event_id, event_type, received_at = what_it_was(self.source)
        return (
            self.group, self.source.topic, self.source.partition, self.source.offset,
            event_id, event_type, received_at, self.reason[:2000],
        )  # fmt: skip


def what_it_was(source: SourceRecord) -> tuple[uuid.UUID | None, str, datetime]:
    """The event's id, type and receive time as far as the record says, if it says them as a
    stored event would (a dead letter may be anything at all: it must not stop the group); an
    undecodable one falls in the window of Kafka's own timestamp."""
    kafka_time = datetime.fromtimestamp((source.timestamp_ms or 0) / 1000, UTC)
    try:
        event = orjson.loads(source.value or b"")
        received = datetime.fromisoformat(event["received_at"]).astimezone(UTC)
        event_type = event["event_type"]
        if event_type not in EVENT_TYPES or received.year < 2000:
            raise ValueError("not a stored event")
        return uuid.UUID(str(event["event_id"])), event_type, received
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError, OverflowError):
        return None, UNKNOWN_TYPE, kafka_time


async def record_dead_letters(postgres: PostgresPool, rows: list[DeadLetterRow]) -> None:
    async with postgres.connection() as connection:
        await connection.executemany(INSERT, [row.values() for row in rows])
