"""MongoDB backup: every event in `raw.user_logs`, `_id` = event_id, unordered bulk inserts.

Events of erased users are removed right after the insert: the check comes after the write, so
a listing the check misses was made after the write, and the erasure's own deletion, which
follows its listing, removes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from app.consumers.records import DecodedEvent
from app.db.errors import StoreUnavailable
from app.metrics import ERASED_EVENTS_DROPPED
from jobs.forgotten_users import user_hash

DUPLICATE_KEY = 11000


def backup_document(decoded: DecodedEvent, ingested_at: datetime) -> dict[str, Any]:
    """The event exactly as published, plus where it was read from and when."""
    source = decoded.source
    return {
        "_id": decoded.event_id,
        **decoded.event,
        "kafka": {"topic": source.topic, "partition": source.partition, "offset": source.offset},
        "ingested_at": ingested_at,
    }


async def insert_once(
    collection: AsyncCollection, documents: list[dict[str, Any]]
) -> dict[int, str]:
    """Unordered bulk insert where a duplicate `_id` means already stored, which is success.

    Returns the documents MongoDB refused for good, by position; anything else about the store
    raises StoreUnavailable, so the consumer pauses rather than skips.
    """
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        return {
            failure["index"]: failure.get("errmsg", "refused by MongoDB")
            for failure in error.details.get("writeErrors", [])
            if failure.get("code") != DUPLICATE_KEY
        }
    except PyMongoError as error:
        raise StoreUnavailable(f"MongoDB: {type(error).__name__}: {error}") from error
    return {}


class MongoBackupSink:
    name = "mongo_backup"

    def __init__(self, collection: AsyncCollection, forgotten: AsyncCollection) -> None:
        self._collection = collection
        self._forgotten = forgotten  # the suppression list, as forget-user keeps it here

    async def write(self, events: list[DecodedEvent]) -> dict[int, str]:
        now = datetime.now(UTC)
        documents = [backup_document(event, now) for event in events]
        refused = await insert_once(self._collection, documents)
        try:
            await self._remove_forgotten(events)
        except PyMongoError as error:
            raise StoreUnavailable(f"MongoDB: {type(error).__name__}: {error}") from error
        return refused

    async def _remove_forgotten(self, events: list[DecodedEvent]) -> None:
        hashes = {user_hash(event.user_id).hex(): event.user_id for event in events}
        listed = await self._forgotten.distinct("_id", {"_id": {"$in": list(hashes)}})
        if not listed:
            return
        users = {hashes[digest] for digest in listed}
        dropped = [event.event_id for event in events if event.user_id in users]
        # With the user too: an id another user's event holds stays theirs.
        await self._collection.delete_many({"_id": {"$in": dropped}, "user_id": {"$in": [*users]}})
        ERASED_EVENTS_DROPPED.labels(self.name).inc(len(dropped))
