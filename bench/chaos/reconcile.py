"""After the run has settled: where the acknowledged events are, how often, and what the
dead-letter topic holds."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from app.config import Settings
from app.consumers.dead_letter import REASON_HEADER
from app.consumers.groups import EVENT_TOPICS, GROUPS
from app.producers.kafka_admin import end_offsets

STORES = ("stg_user_logs", "fact_user_event", "raw.user_logs")
CHUNK = 10_000


@dataclass(frozen=True)
class StoreCount:
    found: int  # distinct acknowledged events present
    rows: int  # rows holding them: more than found means duplicates


async def count_in_stores(
    settings: Settings, event_ids: Iterable[str], stores: tuple[str, ...] = STORES
) -> dict[str, StoreCount]:
    ids = set(event_ids)
    counts: dict[str, StoreCount] = {}
    if "raw.user_logs" in stores:
        counts["raw.user_logs"] = await count_in_mongo(settings, ids)
    tables = [table for table in ("stg_user_logs", "fact_user_event") if table in stores]
    if not tables:
        return counts
    connection = await asyncpg.connect(settings.database_url)
    try:
        uuids = [uuid.UUID(event_id) for event_id in ids]
        for table in tables:
            rows, distinct = await connection.fetchrow(
                f"SELECT count(*), count(DISTINCT event_id) FROM {table} "
                "WHERE event_id = ANY($1::uuid[])",
                uuids,
            )
            counts[table] = StoreCount(distinct, rows)
    finally:
        await connection.close()
    return counts


async def count_in_mongo(settings: Settings, ids: set[str]) -> StoreCount:
    """One pass over the collection's ids: FerretDB on SQLite scans the collection for every
    query, even one by _id, so a lookup per chunk of ids would scan it again and again."""
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)
    try:
        collection = client[settings.mongo_database].user_logs
        found = 0
        async for document in collection.find({}, {"_id": 1}, batch_size=CHUNK):
            found += document["_id"] in ids
    finally:
        await client.close()
    return StoreCount(found, found)  # _id is the event id: there are no duplicates to count


@dataclass(frozen=True)
class DeadLetters:
    records: int
    not_poison: int  # dead letters that are not the run's poison: a valid event lost there
    poison_missed: int  # (poison record, group) pairs that never reached the topic
    reasons: Counter


async def read_dead_letters(
    settings: Settings, start: dict[int, int], poison_keys: set[bytes]
) -> DeadLetters:
    """The dead-letter topic from the offsets it had when the run began to its end now."""
    topic = settings.dead_letter_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    seen: set[tuple[bytes, str]] = set()
    records = not_poison = 0
    reasons: Counter = Counter()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(start)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, start[tp.partition])
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                for record in batch:
                    if record.offset >= ends[TopicPartition(record.topic, record.partition)]:
                        continue
                    headers = dict(record.headers)
                    records += 1
                    if record.key not in poison_keys:
                        not_poison += 1
                    group = headers.get("dead_letter.consumer_group", b"").decode()
                    seen.add((record.key, group))
                    reasons[headers.get(REASON_HEADER, b"").decode()[:60]] += 1
    finally:
        await consumer.stop()
    groups = [g for g, group in GROUPS.items() if set(group.topics) == set(EVENT_TOPICS)]
    missed = sum((key, group) not in seen for key in poison_keys for group in groups)
    return DeadLetters(records, not_poison, missed, reasons)


async def dead_letter_ends(settings: Settings) -> dict[int, int]:
    topic = settings.dead_letter_topic
    ends = await end_offsets(settings.kafka_bootstrap_servers, [topic])
    return {partition: offset for (_, partition), offset in ends.items()}
