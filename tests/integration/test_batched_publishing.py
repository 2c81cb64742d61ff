"""KafkaPublisher on the real broker: each message lands once, in its key's partition, in the
order it was given; concurrent publishes share record batches."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import ProducerClosed
from aiokafka.partitioner import DefaultPartitioner

from app.config import Settings
from app.producers.batching import BatchedSends
from app.producers.kafka import (
    KafkaPublisher,
    OutgoingMessage,
    PublishUnavailable,
    remembering_partitioner,
)
from tests.integration.conftest import scratch_topic

PARTITIONS = 3
PUBLISHES, MESSAGES_EACH = 40, 25


@pytest.fixture
async def topic(settings: Settings, unique: str) -> AsyncIterator[str]:
    async with scratch_topic(settings, f"test_batches_{unique}", PARTITIONS) as name:
        yield name


async def read_all(settings: Settings, topic: str, expected: int) -> dict[int, list[tuple]]:
    """(key, value, headers) of every record, by partition, in offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        records: dict[int, list[tuple]] = defaultdict(list)
        async with asyncio.timeout(20):
            while sum(map(len, records.values())) < expected:
                for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                    records[tp.partition] += [(r.key, r.value, tuple(r.headers)) for r in batch]
        return records
    finally:
        await consumer.stop()


async def test_concurrent_publishes_land_once_in_their_keys_partition_in_order(settings, topic):
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, 10)
    keys = [f"user-{n}".encode() for n in range(7)]

    def messages_of(publish: int) -> list[OutgoingMessage]:
        return [
            OutgoingMessage(topic, keys[(publish + n) % len(keys)], b"%d-%d" % (publish, n),
                            (("origin", b"test"),) if n % 5 == 0 else ())
            for n in range(MESSAGES_EACH)
        ]  # fmt: skip

    try:
        await asyncio.gather(*(publisher.publish(messages_of(p)) for p in range(PUBLISHES)))
    finally:
        await publisher.close()

    records = await read_all(settings, topic, PUBLISHES * MESSAGES_EACH)
    every = [record for partition in records.values() for record in partition]
    assert len(every) == PUBLISHES * MESSAGES_EACH  # nothing twice
    expected = {m.value: m for p in range(PUBLISHES) for m in messages_of(p)}
    assert {value for _key, value, _headers in every} == set(expected)
    everything = list(range(PARTITIONS))
    for partition, landed in records.items():
        for key, value, headers in landed:
            assert DefaultPartitioner()(key, everything, everything) == partition
            assert (key, headers) == (expected[value].key, expected[value].headers)
        # Within one publish, a key's messages keep the order they were given in.
        for publish in range(PUBLISHES):
            mine = [value for _key, value, _h in landed if value.startswith(b"%d-" % publish)]
            assert mine == sorted(mine, key=lambda value: int(value.split(b"-")[1]))


async def test_a_message_larger_than_a_batch_is_sent_in_a_batch_of_its_own(settings, topic):
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, 10)
    big = b"x" * 40_000  # a batch holds 16 KiB by default
    try:
        await publisher.publish(
            [OutgoingMessage(topic, b"k", big), OutgoingMessage(topic, b"k", b"after")]
        )
    finally:
        await publisher.close()

    [landed] = (await read_all(settings, topic, 2)).values()
    assert [value for _key, value, _headers in landed] == [big, b"after"]


async def test_a_broker_that_is_not_there_makes_publish_unavailable_in_time():
    publisher = KafkaPublisher("127.0.0.1:9", 1)
    try:
        async with asyncio.timeout(5):
            with pytest.raises(PublishUnavailable):
                await publisher.publish([OutgoingMessage("anything", b"k", b"v")])
    finally:
        await publisher.close()


class CountingProducer(AIOKafkaProducer):
    """The real producer, counting the record batches handed to it."""

    batches = 0

    async def send_batch(self, *args: object, **kwargs: object) -> asyncio.Future[object]:
        self.batches += 1
        return await super().send_batch(*args, **kwargs)


async def test_concurrent_publishes_share_record_batches(settings, topic):
    producer = CountingProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    sends = BatchedSends(producer, remembering_partitioner)
    keys = [f"user-{n}".encode() for n in range(30)]
    try:
        await asyncio.gather(
            *(
                sends.send_all([OutgoingMessage(topic, key, b"%d" % p) for key in keys])
                for p in range(PUBLISHES)
            )
        )
    finally:
        await producer.stop()

    assert sum(map(len, (await read_all(settings, topic, PUBLISHES * len(keys))).values())) == (
        PUBLISHES * len(keys)
    )
    # One batch per publish and partition would be 120; shared, a few per partition.
    assert 0 < producer.batches <= PUBLISHES, producer.batches


async def test_a_request_that_gives_up_leaves_the_batch_it_shares_to_the_others(settings, topic):
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    sends = BatchedSends(producer, remembering_partitioner)
    try:
        await sends.send_all([OutgoingMessage(topic, b"k", b"metadata is known now")])
        leaving = asyncio.create_task(sends.send_all([OutgoingMessage(topic, b"k", b"one")]))
        staying = asyncio.create_task(sends.send_all([OutgoingMessage(topic, b"k", b"two")]))
        await asyncio.sleep(0)  # both have put their message in the partition's open batch
        leaving.cancel()  # as a request's timeout does

        await staying  # neither cancelled nor failed by the other's leaving
    finally:
        await producer.stop()

    [landed] = (await read_all(settings, topic, 3)).values()
    assert [value for _key, value, _headers in landed][1:] == [b"one", b"two"]


async def test_nothing_to_publish_returns_at_once(settings):
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, 10)
    try:
        await publisher.publish([])
    finally:
        await publisher.close()


async def test_stopping_sends_what_was_taken_and_refuses_more(settings, topic):
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    sends = BatchedSends(producer, remembering_partitioner)
    await sends.send_all([OutgoingMessage(topic, b"k", b"metadata is known now")])
    taken = asyncio.create_task(
        sends.send_all([OutgoingMessage(topic, b"%d" % n, b"%d" % n) for n in range(200)])
    )
    await asyncio.sleep(0)  # in open batches, not yet with the producer

    await sends.stop()

    await taken  # delivered, not failed, by the stop
    with pytest.raises(ProducerClosed):
        await sends.send_all([OutgoingMessage(topic, b"k", b"too late")])
    assert sum(map(len, (await read_all(settings, topic, 201)).values())) == 201
