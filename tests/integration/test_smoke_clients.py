"""The project's own clients against the real services: Kafka, FerretDB and PostgreSQL."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError


async def test_a_record_goes_through_kafka(settings, kafka_topic, unique):
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        metadata = await producer.send_and_wait(
            kafka_topic, key=b"user-1", value=f"hello {unique}".encode()
        )
    finally:
        await producer.stop()
    assert metadata.offset == 0

    consumer = AIOKafkaConsumer(
        kafka_topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"smoke-{unique}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
    finally:
        await consumer.stop()
    records = [record for partition_records in batches.values() for record in partition_records]
    assert [(r.key, r.value) for r in records] == [(b"user-1", f"hello {unique}".encode())]


async def test_mongo_insert_find_and_duplicate_key(settings, unique):
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)
    collection = client[settings.mongo_database][f"smoke_{unique}"]
    try:
        await collection.insert_one({"_id": unique, "title": "Heat"})
        assert await collection.find_one({"_id": unique}) == {"_id": unique, "title": "Heat"}
        with pytest.raises(DuplicateKeyError) as raised:
            await collection.insert_one({"_id": unique, "title": "Heat again"})
        assert raised.value.code == 11000
        assert await collection.count_documents({}) == 1
    finally:
        await collection.drop()
        await client.close()


async def test_postgres_query_through_asyncpg(pg, unique):
    await pg.execute(f"CREATE TEMP TABLE smoke_{unique} (id int PRIMARY KEY, title text)")
    await pg.executemany(
        f"INSERT INTO smoke_{unique} VALUES ($1, $2)", [(1, "Alien"), (2, "Aliens")]
    )
    rows = await pg.fetch(f"SELECT title FROM smoke_{unique} ORDER BY id")
    assert [row["title"] for row in rows] == ["Alien", "Aliens"]
