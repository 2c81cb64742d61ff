"""Concurrent requests' messages gathered into one record batch per partition.

aiokafka's `send()` costs about 12 µs of CPU per message (a coroutine, a future and its
callbacks each), more than validating an event. Appending to a record batch costs about 1 µs,
and a batch has one delivery future. So each partition keeps an open batch that every
request appends to while the previous batch is on its way, as aiokafka's own accumulator does
message by message; a request then waits on the futures of the few batches holding its
messages. Delivery is the producer's: idempotent, acks=all, in order within a partition.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, ProducerClosed
from aiokafka.producer.message_accumulator import BatchBuilder

from app.producers.messages import OutgoingMessage

Partitioner = Callable[[bytes | None, list[int], list[int]], int]


class BatchedSends:
    """One producer's open batches, by partition."""

    def __init__(self, producer: AIOKafkaProducer, partitioner: Partitioner) -> None:
        self.producer, self._partitioner = producer, partitioner
        self._batches: dict[tuple[str, int], PartitionBatches] = {}
        self._stopping = False

    async def send_all(self, messages: Sequence[OutgoingMessage]) -> None:
        """Returns once Kafka holds every message; raises the producer's error otherwise."""
        partitions_of: dict[str, list[int]] = {}
        deliveries = set()
        for message in messages:
            if self._stopping:
                raise ProducerClosed()
            topic = message.topic
            if (partitions := partitions_of.get(topic)) is None:
                partitions = sorted(await self.producer.partitions_for(topic))
                partitions_of[topic] = partitions
            partition = self._partitioner(message.key, partitions, partitions)
            if (batches := self._batches.get((topic, partition))) is None:
                batches = PartitionBatches(self.producer, topic, partition)
                self._batches[topic, partition] = batches
            deliveries.add(batches.append(message.key, message.value, list(message.headers)))
        if not deliveries:
            return
        # Not gather: cancelling a gather (this request's timeout) cancels what it waits on,
        # and these futures are other requests' too.
        await asyncio.wait(deliveries)
        for delivered in deliveries:
            delivered.result()  # the error of a batch that failed

    async def stop(self) -> None:
        """Takes no more messages, hands the producer every batch already filled, then stops
        it, which sends what it holds: as aiokafka's own `stop()` does with its queue."""
        self._stopping = True
        shipping = [batches.shipping for batches in self._batches.values()]
        await asyncio.gather(*(task for task in shipping if task), return_exceptions=True)
        await self.producer.stop()


class PartitionBatches:
    """The batches of one partition: the open one, those full and waiting, and a task that
    hands them to the producer one at a time (the producer takes a partition's next batch
    once the last is drained)."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, partition: int) -> None:
        self._producer, self._topic, self._partition = producer, topic, partition
        self._open: tuple[BatchBuilder, asyncio.Future[None]] | None = None
        self._full: deque[tuple[BatchBuilder, asyncio.Future[None]]] = deque()
        self.shipping: asyncio.Task[None] | None = None

    def append(
        self, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[None]:
        """The future of the batch the message went into: done once Kafka holds the batch."""
        if self._open is None:
            self._open = (self._producer.create_batch(), asyncio.get_running_loop().create_future())
        builder, delivered = self._open
        if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # Full (a batch always takes its first message, whatever its size).
            self._full.append(self._open)
            self._open = None
            return self.append(key, value, headers)
        if self.shipping is None:
            self.shipping = asyncio.create_task(self._ship())
        return delivered

    async def _ship(self) -> None:
        try:
            while self._full or self._open:
                if self._full:
                    builder, delivered = self._full.popleft()
                else:
                    assert self._open is not None
                    (builder, delivered), self._open = self._open, None
                builder.close()  # closed, the producer sends it without lingering
                try:
                    delivery = await self._producer.send_batch(
                        builder, self._topic, partition=self._partition
                    )
                except asyncio.CancelledError:
                    fail(delivered, KafkaError("the batch was not handed to the producer"))
                    raise
                except Exception as error:  # every request waiting on it hears why
                    fail(delivered, error)
                else:
                    delivery.add_done_callback(lambda done, into=delivered: settle(into, done))
        finally:
            self.shipping = None


def settle(into: asyncio.Future[None], delivery: asyncio.Future[object]) -> None:
    if into.done():
        return
    if delivery.cancelled():
        fail(into, KafkaError("the batch's delivery was cancelled"))
    elif (error := delivery.exception()) is not None:
        fail(into, error)
    else:
        into.set_result(None)


def fail(future: asyncio.Future[None], error: BaseException) -> None:
    if future.done():
        return
    future.set_exception(error)
    # Read once here: a request that gave up waiting must not leave it to be logged as lost.
    future.exception()
