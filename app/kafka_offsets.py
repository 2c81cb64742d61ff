"""Kafka's end offsets of the user topics, for measuring how far behind Spark is."""

from __future__ import annotations

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
