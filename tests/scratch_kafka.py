"""A Kafka broker of a test's own, on any address and data directory, built like the local
stack's: for faults the shared broker must never suffer (a partition, a full disk)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.producers.kafka_admin import end_offsets
from app.topics import RECEIPTS_TOPIC, USER_TOPICS
from devstack.kafka import Kafka
from tests.support import free_port


class ScratchKafka(Kafka):
    ready_timeout_seconds = 120.0

    def __init__(self, home: Path, host: str = "127.0.0.1", port: int | None = None,
                 launcher: tuple[str, ...] = (), data_dir: Path | None = None) -> None:  # fmt: skip
        self._home, self.host, self.launcher = home, host, launcher
        self.port, self.controller_port = port or free_port(), free_port()
        self._data_dir = data_dir or home / "data"

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def home(self) -> Path:
        return self._home

    @property
    def log_file(self) -> Path:
        return self._home / "kafka.log"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def run(self) -> None:
        self.start()
        self.wait_ready()

    async def create_user_topics(self) -> None:
        """The topics ingest writes: the user topics and its receipts."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            names = [*USER_TOPICS.values(), RECEIPTS_TOPIC]
            await admin.create_topics([NewTopic(name, 1, 1) for name in names])
        finally:
            await admin.close()


async def read_event_ids(bootstrap_servers: str, topics: list[str]) -> list[str]:
    """The event id of every record the topics hold, from their beginning."""
    ends = {
        TopicPartition(*key): end
        for key, end in (await end_offsets(bootstrap_servers, topics)).items()
    }
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    ids: list[str] = []
    try:
        partitions = list(ends)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        async with asyncio.timeout(60):
            while [p for p in partitions if await consumer.position(p) < ends[p]]:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    ids.extend(orjson.loads(record.value)["event_id"] for record in batch)
    finally:
        await consumer.stop()
    return ids
