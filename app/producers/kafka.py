"""Publishing to Kafka: one idempotent producer (acks=all), recreated after a failure."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from app.producers.batching import BatchedSends
from app.producers.messages import OutgoingMessage

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=65_536)
def key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def remembering_partitioner(
    key: bytes | None, all_partitions: list[int], available: list[int]
) -> int:
    """Kafka's default partitioner, with each key's hash remembered: murmur2 is pure Python in
    aiokafka, and a user sends many events. Ours picks the partition of each batch we build."""
    if key is None:
        return DefaultPartitioner()(key, all_partitions, available)
    return all_partitions[key_hash(key) % len(all_partitions)]


class PublishUnavailable(Exception):
    """Kafka did not acknowledge every message in time; none of them may be reported as stored."""


class Publisher(Protocol):
    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Return once every message is durably stored; else raise PublishUnavailable."""
        ...

    async def close(self) -> None: ...


class KafkaPublisher:
    """Sends messages and returns only once Kafka has acknowledged all of them.

    The producer starts on first use, so the service comes up (and reports itself unready)
    while Kafka is down. After any failure it is replaced: an idempotent producer can stay
    stuck on a broken sequence after a broker failure (aiokafka #1017).
    """

    def __init__(self, bootstrap_servers: str, timeout_seconds: float) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._timeout_seconds = timeout_seconds
        self._sends: BatchedSends | None = None  # and the producer they go through
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        sends: BatchedSends | None = None
        try:
            async with asyncio.timeout(self._timeout_seconds):
                sends = await self._started_producer()
                await sends.send_all(messages)
        except (TimeoutError, KafkaError, OSError) as error:
            await self._replace_producer(sends)
            reason = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
            raise PublishUnavailable(f"Kafka did not acknowledge the messages: {reason}") from error

    async def close(self) -> None:
        async with self._lock:
            sends, self._sends = self._sends, None
        if sends is not None:
            await sends.stop()
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def _started_producer(self) -> BatchedSends:
        async with self._lock:
            if self._sends is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap_servers,
                    enable_idempotence=True,  # implies acks=all
                    acks="all",
                    linger_ms=2,
                    request_timeout_ms=max(1000, int(self._timeout_seconds * 1000)),
                )
                try:
                    await producer.start()
                except BaseException:
                    # Cleaning up may wait on the network: never inside the request's time.
                    self._retire(producer.stop())
                    raise
                self._sends = BatchedSends(producer, remembering_partitioner)
            return self._sends

    async def _replace_producer(self, failed: BatchedSends | None) -> None:
        """Replaces the producer that failed, unless a request that failed with it has already
        had it replaced: the new one is not to blame."""
        async with self._lock:
            if failed is None or failed is not self._sends:
                return
            self._sends = None
        self._retire(failed.stop())

    def _retire(self, stopping: Coroutine[Any, Any, None]) -> None:
        # Stopping flushes what is queued, which can take long while Kafka is away.
        task = asyncio.create_task(_stop_quietly(stopping))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)


async def _stop_quietly(stopping: Coroutine[Any, Any, None]) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(stopping, 30)
    log.info("replaced the Kafka producer after a failure")
