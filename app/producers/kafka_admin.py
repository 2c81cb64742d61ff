"""Kafka administration: the project's topics (the broker is configured not to create them on
its own) and the end offsets that lag is measured against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.cluster import ClusterMetadata

from app.config import Settings
from app.topics import RECEIPTS_TOPIC, TOPIC_OF_TYPE

RETENTION = "retention.ms"
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' source of a config set on the topic itself


async def ensure_topics(settings: Settings) -> list[str]:
    """Create whichever of the project's topics are missing, with their retention, and set the
    retention of those already there; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in settings.topics if name not in existing]
        retention = topic_retention_ms(settings)
        if missing:
            await admin.create_topics([new_topic(settings, name, retention) for name in missing])
        await align_retention(admin, {t: ms for t, ms in retention.items() if t in existing})
        return missing
    finally:
        await admin.close()


def new_topic(settings: Settings, name: str, retention: Mapping[str, int]) -> NewTopic:
    configs = {RETENTION: str(retention[name])} if name in retention else {}
    return NewTopic(
        name,
        settings.kafka_topic_partitions,
        settings.kafka_replication_factor,
        topic_configs=configs,
    )


def topic_retention_ms(settings: Settings) -> dict[str, int]:
    """The retention of each topic whose retention the settings decide (the movie topic keeps
    the broker's: it holds the catalogue's versions)."""
    hour = 3_600_000
    kept = {topic: settings.kafka_retention_hours * hour for topic in TOPIC_OF_TYPE.values()}
    return {
        **kept,
        RECEIPTS_TOPIC: settings.kafka_retention_hours * hour,
        settings.dead_letter_topic: settings.kafka_dead_letter_retention_hours * hour,
    }


async def align_retention(admin: AIOKafkaAdminClient, wanted: Mapping[str, int]) -> None:
    """Each topic's `retention.ms` as wanted. Kafka's AlterConfigs sets a topic's whole set of
    its own configs, so the others it holds (an operator's, say) are sent back as they are."""
    if not wanted:
        return
    resources = [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in wanted]
    changes = []
    for response in await admin.describe_configs(resources):
        for error_code, error_message, _, topic, entries in response.resources:
            if error_code:
                raise RuntimeError(f"describing topic {topic}: {error_message}")
            own = {entry[0]: entry[1] for entry in entries if entry[3] == DYNAMIC_TOPIC_CONFIG}
            if own.get(RETENTION) == str(wanted[topic]):
                continue
            if None in own.values():  # a sensitive value, which Kafka never shows
                raise RuntimeError(f"topic {topic} holds a secret config: set retention by hand")
            configs = {**own, RETENTION: str(wanted[topic])}
            changes.append(ConfigResource(ConfigResourceType.TOPIC, topic, configs))
    if changes:
        await admin.alter_configs(changes)


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
