"""Kafka administration: the project's topics (the broker is configured not to create them on
its own) and the end offsets that lag is measured against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.cluster import ClusterMetadata

from app.config import Settings


async def ensure_topics(settings: Settings) -> list[str]:
    """Create whichever of the project's topics are missing; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in settings.topics if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name, settings.kafka_topic_partitions, settings.kafka_replication_factor
                    )
                    for name in missing
                ]
            )
        return missing
    finally:
        await admin.close()


async def cluster_metadata(bootstrap_servers: str, timeout: float = 40.0) -> ClusterMetadata:
    """The brokers and topics; an unsubscribed consumer's partitions_for_topic stays empty."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    try:
        await client.bootstrap()
        return await client.fetch_all_metadata()
    finally:
        await client.close()


async def end_offsets(bootstrap_servers: str, topics: list[str]) -> dict[tuple[str, int], int]:
    cluster = await cluster_metadata(bootstrap_servers)
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


async def group_lags(bootstrap_servers: str, groups: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Messages each consumer group has yet to commit, over the topics it reads.

    Read from the broker, so it holds wherever the group's consumers run; a group that never
    committed is behind by the whole of its topics."""
    topics = sorted({topic for group_topics in groups.values() for topic in group_topics})
    ends = await end_offsets(bootstrap_servers, topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        lags = {}
        for group, group_topics in groups.items():
            committed = await admin.list_consumer_group_offsets(group)
            done = {(tp.topic, tp.partition): max(0, m.offset) for tp, m in committed.items()}
            lags[group] = sum(
                max(0, end - done.get(key, 0))
                for key, end in ends.items()
                if key[0] in group_topics
            )
        return lags
    finally:
        await admin.close()
