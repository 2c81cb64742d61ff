"""The model benches' data: simulated events of fresh users, published to the real user topics
with a bare producer and staged with PostgresStagingSink, as the consumers would have done."""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from app.config import Settings
from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.records import DecodedEvent, SourceRecord
from app.db.postgres import PostgresPool
from app.ingest.events import EventLimits, validate_event
from app.producers.kafka_admin import end_offsets, spark_offsets_at_end
from app.simulation.traffic import TrafficModel, generate_events
from app.topics import USER_TOPICS
from jobs.rules import load_rules

STAGING_BATCH = 5000  # events per publish round and per PostgresStagingSink.write
ONE_MICROSECOND = timedelta(microseconds=1)


def fresh_traffic(users: int) -> TrafficModel:
    """Simulated traffic of users no other run has: `bench-model-<random>-NNNNN`."""
    return TrafficModel(users=users, user_prefix=f"bench-model-{uuid.uuid4().hex[:8]}")


async def starting_offsets_now(settings: Settings) -> str:
    return await spark_offsets_at_end(settings.kafka_bootstrap_servers, list(USER_TOPICS.values()))


@dataclass
class StagedEvents:
    """What went to Kafka and staging: counts, users, and the received_at range they span."""

    events: int = 0
    comments: int = 0
    since: datetime | None = None
    until: datetime | None = None  # excluded: the last received_at plus a microsecond
    user_ids: set[str] | None = None

    def add(self, stored: list[dict[str, Any]], received_at: datetime) -> None:
        self.events += len(stored)
        self.comments += sum(event["event_type"] == "comment" for event in stored)
        self.since = self.since or received_at
        self.until = received_at + ONE_MICROSECOND
        self.user_ids = (self.user_ids or set()) | {event["user_id"] for event in stored}


class SpreadClock:
    """Simulated time moving from `span` ago to now as events are drawn: a user's visits spread
    over days and make sessions of their own, as in a backlog of real traffic."""

    def __init__(self, span: timedelta, total: int) -> None:
        self.span, self.total, self.drawn = span, total, 0
        self.start = datetime.now(UTC) - span

    def __call__(self) -> datetime:
        return self.start + self.span * (self.drawn / self.total)


def stored_chunks(
    count: int, seed: int, traffic: TrafficModel, span: timedelta
) -> Iterator[tuple[list[dict[str, Any]], datetime]]:
    """Stored events a chunk at a time, each chunk received at one moment, as a batch would be."""
    clock = SpreadClock(span, count)
    client_events = generate_events(random.Random(seed), clock, traffic)
    limits = EventLimits.from_rules(load_rules())
    for start in range(0, count, STAGING_BATCH):
        received_at, stored = datetime.now(UTC), []
        for event in islice(client_events, min(STAGING_BATCH, count - start)):
            clock.drawn += 1
            stored.append(validate_event(event, received_at, "bench", limits))
        yield stored, received_at


async def publish(producer: AIOKafkaProducer, stored: list[dict[str, Any]]) -> list[DecodedEvent]:
    """All of a chunk in flight at once; returns it as the consumers would decode it."""
    messages = [
        (USER_TOPICS[event["event_type"]], event["user_id"].encode(), orjson.dumps(event))
        for event in stored
    ]
    deliveries = [await producer.send(topic, value, key=key) for topic, key, value in messages]
    written = await asyncio.gather(*deliveries)
    return [
        DecodedEvent(SourceRecord(topic, meta.partition, meta.offset, key, value), event)
        for (topic, key, value), meta, event in zip(messages, written, stored, strict=True)
    ]


def bare_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,  # acks=all, as the service's producer
        linger_ms=20,
        max_batch_size=512 * 1024,
    )


async def publish_and_stage(
    settings: Settings, count: int, seed: int, traffic: TrafficModel, span: timedelta
) -> StagedEvents:
    producer, pool = bare_producer(settings), PostgresPool(settings.database_url)
    sink = PostgresStagingSink(pool)
    await producer.start()
    staged = StagedEvents()
    try:
        for stored, received_at in stored_chunks(count, seed, traffic, span):
            decoded = await publish(producer, stored)
            if failures := await sink.write(decoded):
                raise RuntimeError(f"staging refused events: {failures}")
            staged.add(stored, received_at)
            report_progress(staged.events, count)
    finally:
        await producer.stop()
        await pool.close()
    return staged


def report_progress(done: int, total: int) -> None:
    if done == total or done % max(total // 10, STAGING_BATCH) < STAGING_BATCH:
        print(f"published and staged {done}/{total} events", file=sys.stderr, flush=True)


async def count_rows_of_users(
    connection: asyncpg.Connection, table: str, user_ids: set[str]
) -> int:
    return await connection.fetchval(
        f"SELECT count(*) FROM {table} WHERE user_id = ANY($1::text[])", sorted(user_ids)
    )


async def consumer_lag(settings: Settings, groups: list[str]) -> int:
    """Records of the user topics these consumer groups have yet to commit."""
    ends = await end_offsets(settings.kafka_bootstrap_servers, list(USER_TOPICS.values()))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        lag = 0
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            for (topic, partition), end in ends.items():
                done = next((m.offset for tp, m in committed.items()
                             if (tp.topic, tp.partition) == (topic, partition)), 0)  # fmt: skip
                lag += max(0, end - done)
        return lag
    finally:
        await admin.close()
