"""The consumer runner with real Kafka and PostgreSQL: what cannot be decoded or stored goes to
the dead-letter topic with its reason and origin, and never blocks the partition behind it."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.bootstrap import build_resources
from app.consumers.groups import GROUPS
from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.runner import ConsumerRunner, RunnerConfig
from tests.event_factory import new_event


def stored(event: dict) -> dict:
    """The stored form as the ingest API publishes it."""
    return {**event, "received_at": event["occurred_at"], "schema_version": 1}


async def create_topics(settings, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1) for name in names])
    finally:
        await admin.close()


async def produce(settings, topic: str, values: list[bytes], key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_all(settings, topic: str, expected: int) -> list:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list = []
    try:
        async with asyncio.timeout(30):
            while len(records) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                records += [r for part in batch.values() for r in part]
    finally:
        await consumer.stop()
    return records


async def test_refused_records_are_dead_lettered_and_the_rest_staged(settings, pg, unique):
    source, dead = f"in_{unique}", f"dead_{unique}"
    await create_topics(settings, source, dead)
    user = f"u-{unique}"
    good_first, good_last = new_event("watch", user), new_event("click", user)
    out_of_range = new_event("comment", user, payload={"text": "Great", "rating": 11})
    values = [
        orjson.dumps(stored(good_first)),
        b"{not json",
        orjson.dumps(stored(out_of_range)),  # the CHECK on stg_comments.rating refuses it
        orjson.dumps({"event_id": "not-a-uuid"}),
        orjson.dumps(stored(good_last)),
    ]
    await produce(settings, source, values, user.encode())

    group = f"staging-{unique}"
    config = RunnerConfig(settings.kafka_bootstrap_servers, group, (source,), dead, batch_size=10)
    async with build_resources(settings) as resources:
        sink = PostgresStagingSink(resources.postgres)
        runner = ConsumerRunner(config, sink, resources.publisher)
        task = asyncio.create_task(runner.run())
        try:
            letters = await read_all(settings, dead, expected=3)
            staged = await wait_for_staged(pg, [good_first["event_id"], good_last["event_id"]])
        finally:
            runner.stop()
            await task

    assert staged == 2
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM stg_user_logs WHERE event_id = $1",
            uuid.UUID(out_of_range["event_id"]),
        )
        == 0
    ), "a refused event is staged nowhere, not even half"
    letters.sort(key=lambda record: int(dict(record.headers)["dead_letter.origin_offset"]))
    headers = [dict(record.headers) for record in letters]
    assert [h["dead_letter.origin_offset"] for h in headers] == [b"1", b"2", b"3"]
    assert {h["dead_letter.origin_topic"] for h in headers} == {source.encode()}
    assert {h["dead_letter.consumer_group"] for h in headers} == {group.encode()}
    reasons = [h["dead_letter.reason"].decode() for h in headers]
    assert reasons[0].startswith("undecodable")
    assert "rating" in reasons[1] and reasons[1].startswith("PostgreSQL refused")
    assert reasons[2].startswith("undecodable")
    assert [record.value for record in letters] == [values[1], values[2], values[3]]
    assert all(record.key == user.encode() for record in letters)
    assert await committed_offset(settings, group, source) == len(values)


async def wait_for_staged(pg: asyncpg.Connection, event_ids: list[str]) -> int:
    ids = [uuid.UUID(event_id) for event_id in event_ids]
    async with asyncio.timeout(30):
        while True:
            count = await pg.fetchval(
                "SELECT count(*) FROM stg_user_logs WHERE event_id = ANY($1::uuid[])", ids
            )
            if count == len(ids):
                return count
            await asyncio.sleep(0.2)


async def committed_offset(settings, group: str, topic: str, partition: int = 0) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, partition))
    finally:
        await consumer.stop()


def poison_values(user: str) -> list[bytes]:
    """Records that decode as JSON but no store could hold as they are."""
    comment = stored(new_event("comment", user))
    return [
        orjson.dumps({**comment, "payload": {"text": "x", "rating": "high"}}),
        orjson.dumps({**comment, "payload": {"text": "x", "parent_event_id": "nope"}}),
        json.dumps({**comment, "movie_id": 2**64 - 1}).encode(),
    ]


@pytest.mark.parametrize("group_id", ["postgres-staging", "mongo-backup"])
async def test_poison_records_are_dead_lettered_by_every_sink_and_the_group_moves_on(
    settings, pg, unique, group_id
):
    source, dead = f"in_{unique}", f"dead_{unique}"
    await create_topics(settings, source, dead)
    user = f"u-{unique}"
    good = new_event("click", user)
    values = [*poison_values(user), orjson.dumps(stored(good))]
    await produce(settings, source, values, user.encode())

    group = f"{group_id}-{unique}"
    config = RunnerConfig(settings.kafka_bootstrap_servers, group, (source,), dead, batch_size=10)
    async with build_resources(settings) as resources:
        runner = ConsumerRunner(config, GROUPS[group_id].sink(resources), resources.publisher)
        task = asyncio.create_task(runner.run())
        try:
            letters = await read_all(settings, dead, expected=3)
            async with asyncio.timeout(30):
                while True:
                    if await committed_offset(settings, group, source) == len(values):
                        break
                    await asyncio.sleep(0.2)
        finally:
            runner.stop()
            await task  # a crash would surface here
    reasons = sorted(dict(record.headers)["dead_letter.reason"].decode() for record in letters)
    assert all(reason.startswith("undecodable") for reason in reasons), reasons
    assert any("rating" in r for r in reasons) and any("parent_event_id" in r for r in reasons)
    assert any("movie_id" in r for r in reasons)


class SlowFirstWrite:
    """The staging sink, but its first write is slow, as during a store outage: the group
    rebalances meanwhile."""

    def __init__(self, sink: PostgresStagingSink, seconds: float) -> None:
        self.name, self._sink, self._seconds = sink.name, sink, seconds
        self.writes = 0

    async def write(self, events: list) -> dict[int, str]:
        self.writes += 1
        if self.writes == 1:
            await asyncio.sleep(self._seconds)
        return await self._sink.write(events)


async def test_a_rebalance_during_a_write_does_not_crash_the_consumer(settings, pg, unique):
    source, dead = f"in_{unique}", f"dead_{unique}"
    await create_topics(settings, dead)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(source, 2, 1)])
    finally:
        await admin.close()
    events = [new_event("click", f"u-{unique}-{n}") for n in range(20)]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for n, event in enumerate(events):
            await producer.send_and_wait(source, orjson.dumps(stored(event)), partition=n % 2)
    finally:
        await producer.stop()

    group = f"rebalanced-{unique}"
    config = RunnerConfig(settings.kafka_bootstrap_servers, group, (source,), dead)
    async with build_resources(settings) as resources:
        slow = SlowFirstWrite(PostgresStagingSink(resources.postgres), seconds=6)
        first = ConsumerRunner(config, slow, resources.publisher)
        second = ConsumerRunner(
            config, PostgresStagingSink(resources.postgres), resources.publisher
        )
        tasks = [asyncio.create_task(first.run())]
        try:
            async with asyncio.timeout(30):
                while True:
                    if slow.writes:
                        break
                    await asyncio.sleep(0.1)
            tasks.append(asyncio.create_task(second.run()))  # joins while the first writes
            async with asyncio.timeout(60):
                while True:
                    assert not any(task.done() for task in tasks), [t.exception() for t in tasks]
                    committed = [
                        await committed_offset(settings, group, source, partition)
                        for partition in (0, 1)
                    ]
                    if committed == [10, 10]:
                        break
                    await asyncio.sleep(0.3)
        finally:
            first.stop()
            second.stop()
            await asyncio.gather(*tasks)  # a crash would surface here
    assert await wait_for_staged(pg, [event["event_id"] for event in events]) == len(events)
