"""MongoDB backup: MongoBackupSink.write against a bare unordered insert_many of the same documents.

The sink records what it wrote in the audit's ledger (audit.backed_up), as it does in the
pipeline; those rows are deleted afterwards.

Both take consumer-sized batches and write into scratch collections of their own, dropped at
the end: deleting from the real backup collection is slow on FerretDB (every delete scans it),
and fresh collections make the two sides alike.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import chain

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from app.bootstrap import mongo_client
from app.config import Settings
from app.consumers.mongo_backup import MongoBackupSink, backup_document
from app.consumers.records import DecodedEvent
from app.db.postgres import PostgresPool
from bench.common import (
    Measurement,
    bench_parser,
    chunks,
    decoded_events,
    print_table,
    timed,
    timed_sink_writes,
)

WARMUP_EVENTS = 500  # connections and server selection, untimed


async def bare_insert_many(
    collection: AsyncCollection, batches: list[Sequence[DecodedEvent]]
) -> Measurement:
    """Insert the documents the sink would write, built beforehand: the bare side only inserts."""
    now = datetime.now(UTC)
    prepared = [[backup_document(event, now) for event in batch] for batch in batches]
    await collection.insert_many([{"_id": "warm-up"}])

    async def insert_all() -> None:
        for documents in prepared:
            await collection.insert_many(documents, ordered=False)

    what = f"bare insert_many(ordered=False), batches of {len(batches[0])}"
    return await timed(what, sum(map(len, batches)), insert_all)


async def through_the_sink(
    settings: Settings,
    collection: str,
    warmup: list[DecodedEvent],
    batches: list[Sequence[DecodedEvent]],
) -> Measurement:
    client = mongo_client(settings.mongo_url)
    database = client[settings.mongo_database]
    audit = PostgresPool(settings.database_url)  # the audit's ledger of the backup, as it runs
    sink = MongoBackupSink(database[collection], database["forgotten_users"], audit)
    what = f"MongoBackupSink.write, batches of {len(batches[0])}"
    try:
        return await timed_sink_writes(what, sink, warmup, batches)
    finally:
        ids = [uuid.UUID(event.event_id) for event in [*warmup, *chain(*batches)]]
        async with audit.connection() as connection:
            await connection.execute(
                "DELETE FROM audit.backed_up WHERE event_id = ANY($1::uuid[])", ids
            )
        await audit.close()
        await client.close()


async def main() -> None:
    args = bench_parser(__doc__.split("\n")[0], default_events=10_000).parse_args()
    settings = Settings(run_consumers=False)
    events = decoded_events(args.events + WARMUP_EVENTS, args.seed)
    warmup, timed_events = events[:WARMUP_EVENTS], events[WARMUP_EVENTS:]
    batches = list(chunks(timed_events, settings.consumer_batch_size))
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    database = client[settings.mongo_database]
    suffix = uuid.uuid4().hex[:10]
    bare_scratch, sink_scratch = f"bench_bare_{suffix}", f"bench_sink_{suffix}"
    try:
        baseline = await bare_insert_many(database[bare_scratch], batches)
        ours = await through_the_sink(settings, sink_scratch, warmup, batches)
    finally:
        for name in (bare_scratch, sink_scratch):
            await database.drop_collection(name)
        await client.close()
    title = (
        f"MongoDB backup ({settings.mongo_url}, scratch collections in {settings.mongo_database})"
    )
    print_table(title, [baseline, ours])


if __name__ == "__main__":
    asyncio.run(main())
