"""Replay: events from the raw MongoDB backup published again to their topics, as they were
first published: the same event ids and `received_at`, so every write downstream (staging,
the backup itself, the model) stays exactly once.

For when Kafka lost data, its retention expired before a reader got there, or a new consumer
group needs the history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from app.bootstrap import Resources
from app.producers.messages import OutgoingMessage
from app.topics import TOPIC_OF_TYPE

BATCH = 500  # events a publish waits for at once
BACKUP_ONLY = ("_id", "kafka", "ingested_at")  # what the backup adds to the published event


@dataclass(frozen=True)
class ReplayOutcome:
    events: int  # found in the range (and types)
    published: int


def published_form(document: dict[str, Any]) -> OutgoingMessage:
    """The message the ingest API published, from its backup document."""
    event = {key: value for key, value in document.items() if key not in BACKUP_ONLY}
    return OutgoingMessage(
        TOPIC_OF_TYPE[event["event_type"]], event["user_id"].encode(), orjson.dumps(event)
    )


def backup_filter(since: datetime, until: datetime, event_types: Sequence[str]) -> dict[str, Any]:
    # received_at is kept as the API wrote it, ISO 8601 in UTC (+00:00), so it sorts as text
    # against bounds written the same way, whatever offset the operator typed.
    bounds = {"$gte": since.astimezone(UTC).isoformat(), "$lt": until.astimezone(UTC).isoformat()}
    chosen: dict[str, Any] = {"received_at": bounds}
    if event_types:
        chosen["event_type"] = {"$in": list(event_types)}
    return chosen


async def replay(
    resources: Resources,
    since: datetime,
    until: datetime,
    event_types: Sequence[str],
    dry_run: bool,
    progress: Callable[[int, int], None],
) -> ReplayOutcome:
    settings = resources.settings
    backup = resources.mongo[settings.mongo_database].user_logs
    chosen = backup_filter(since, until, event_types)
    total = await backup.count_documents(chosen)
    if dry_run or not total:
        return ReplayOutcome(total, 0)
    published, pending = 0, []
    async for document in backup.find(chosen, batch_size=BATCH):
        pending.append(published_form(document))
        if len(pending) == BATCH:
            await resources.publisher.publish(pending)
            published, pending = published + len(pending), []
            progress(published, total)
    if pending:
        await resources.publisher.publish(pending)
        published += len(pending)
    progress(published, total)
    return ReplayOutcome(total, published)
