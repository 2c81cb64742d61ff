"""Kafka's end offsets of the user topics, for measuring how far behind Spark is."""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition


async def end_offsets(bootstrap_servers: str, topics: list[str]) -> dict[tuple[str, int], int]:
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers)
    await client.bootstrap()
    try:
        cluster = await client.fetch_all_metadata()
    finally:
        await client.close()
    partitions = [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in sorted(cluster.partitions_for_topic(topic) or ())
    ]
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


async def spark_offsets_at_end(bootstrap_servers: str, topics: list[str]) -> str:
    """Spark's startingOffsets JSON at the topics' current ends: a new stream sees only newer
    events (replays, tests and benches that must not re-read the whole log)."""
    offsets: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in (await end_offsets(bootstrap_servers, topics)).items():
        offsets.setdefault(topic, {})[str(partition)] = offset
    return orjson.dumps(offsets).decode()
