"""MongoDB backup: every event in `raw.user_logs`, `_id` = event_id, unordered bulk inserts.

Events of erased users are removed right after the insert: the check comes after the write, so
a listing the check misses was made after the write, and the erasure's own deletion, which
follows its listing, removes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from app.audit.id_ledger import LedgerEntry, receive_time, record_entries
from app.consumers.records import DecodedEvent
from app.db.errors import StoreUnavailable
from app.db.postgres import PostgresPool
from app.metrics import ERASED_EVENTS_DROPPED
from jobs.forgotten_users import user_hash

DUPLICATE_KEY = 11000
A, B = TypeVar("A"), TypeVar("B")


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

    def __init__(
        self, collection: AsyncCollection, forgotten: AsyncCollection, audit: PostgresPool
    ) -> None:
        self._collection = collection
        self._forgotten = forgotten  # the suppression list, as forget-user keeps it here
        self._audit = audit  # where the audit's ledger of the backup is kept

    async def write(self, events: list[DecodedEvent]) -> dict[int, str]:
        """The batch into MongoDB, and into the audit's ledger of the backup in a transaction
        that commits only once MongoDB has it: the two writes overlap, so the ledger costs the
        batch little time. A batch written again after a crash is recorded again, idempotently."""
        now = datetime.now(UTC)
        documents = [backup_document(event, now) for event in events]
        async with self._audit.connection() as connection, connection.transaction():
            refused, _ = await both(
                insert_once(self._collection, documents),
                record_entries(connection, "audit.backed_up", list(map(ledger_entry, events))),
            )
            try:
                dropped = await self._remove_forgotten(events)
            except PyMongoError as error:
                raise StoreUnavailable(f"MongoDB: {type(error).__name__}: {error}") from error
            if unwritten := dropped | {events[index].event_id for index in refused}:
                await connection.execute(
                    "DELETE FROM audit.backed_up WHERE event_id = ANY($1::uuid[])", unwritten
                )
        return refused

    async def _remove_forgotten(self, events: list[DecodedEvent]) -> set[str]:
        """Deletes the events of erased users just written; returns their ids."""
        hashes = {user_hash(event.user_id).hex(): event.user_id for event in events}
        listed = await self._forgotten.distinct("_id", {"_id": {"$in": list(hashes)}})
        if not listed:
            return set()
        users = {hashes[digest] for digest in listed}
        dropped = [event.event_id for event in events if event.user_id in users]
        # With the user too: an id another user's event holds stays theirs.
        await self._collection.delete_many({"_id": {"$in": dropped}, "user_id": {"$in": [*users]}})
        ERASED_EVENTS_DROPPED.labels(self.name).inc(len(dropped))
        return set(dropped)


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both results, or the first error once neither is running any more (the second's
    connection must be idle before its transaction ends)."""
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes[0], outcomes[1]  # type: ignore[return-value]


def ledger_entry(decoded: DecodedEvent) -> LedgerEntry:
    event = decoded.event
    received_at = receive_time(event["received_at"])
    occurred = event.get("occurred_at")
    return LedgerEntry(
        decoded.event_id, event["event_type"], received_at, decoded.user_id,
        None if occurred is None else datetime.fromisoformat(occurred),
    )  # fmt: skip
