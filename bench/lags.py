"""Every stage's lag behind the user topics: each consumer group's uncommitted messages, and
those past the Spark stream's committed offsets."""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.config import Settings
from app.consumers.groups import EVENT_TOPICS, GROUPS
from app.model import queries
from app.producers.kafka_admin import cluster_metadata
from app.topics import USER_TOPICS

SPARK = "spark"
# The consumer groups the simulated traffic reaches (the backup reads the Segment topic too);
# the movie groups read another topic.
CONSUMER_GROUPS = [name for name, group in GROUPS.items() if set(EVENT_TOPICS) <= set(group.topics)]
STAGES = (*CONSUMER_GROUPS, SPARK)


class LagProbe:
    """Every stage's lag, read with one admin client, one consumer and one PostgreSQL
    connection, made once for the whole run."""

    def __init__(
        self, settings: Settings, stream: str, spark_start: dict[tuple[str, int], int]
    ) -> None:
        self.settings, self.stream, self.spark_start = settings, stream, spark_start
        servers = settings.kafka_bootstrap_servers
        self.admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
        self.partitions: list[TopicPartition] = []
        self.connection: asyncpg.Connection | None = None
        self.exits = AsyncExitStack()

    async def __aenter__(self) -> LagProbe:
        cluster = await cluster_metadata(self.settings.kafka_bootstrap_servers)
        self.partitions = [
            TopicPartition(topic, partition)
            for topic in USER_TOPICS.values()
            for partition in sorted(cluster.partitions_for_topic(topic) or ())
        ]
        await self.admin.start()
        self.exits.push_async_callback(self.admin.close)
        await self.consumer.start()
        self.exits.push_async_callback(self.consumer.stop)
        self.connection = await asyncpg.connect(self.settings.database_url)
        self.exits.push_async_callback(self.connection.close)
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _error: object, _tb: TracebackType | None
    ) -> None:
        await self.exits.aclose()

    async def lags(self) -> dict[str, int]:
        offsets = await self.consumer.end_offsets(self.partitions)
        ends = {(tp.topic, tp.partition): end for tp, end in offsets.items()}
        lags = {}
        for group in CONSUMER_GROUPS:
            committed = await self.admin.list_consumer_group_offsets(group)
            done = {(tp.topic, tp.partition): max(0, m.offset) for tp, m in committed.items()}
            lags[group] = sum(max(0, end - done.get(key, 0)) for key, end in ends.items())
        assert self.connection is not None
        spark_done = await queries.spark_offsets(self.connection, self.stream)
        # Until the stream commits a partition, it is where the stream started: earlier
        # events are not Spark's to read.
        lags[SPARK] = sum(
            max(0, end - spark_done.get(key, self.spark_start.get(key, 0)))
            for key, end in ends.items()
        )
        return lags

    async def has_committed(self) -> bool:
        assert self.connection is not None
        return await queries.last_spark_batch(self.connection, self.stream) is not None


def parse_offsets(spark_json: str) -> dict[tuple[str, int], int]:
    """Spark's startingOffsets JSON ({topic: {partition: offset}}) by (topic, partition)."""
    return {
        (topic, int(partition)): offset
        for topic, partitions in orjson.loads(spark_json).items()
        for partition, offset in partitions.items()
    }
