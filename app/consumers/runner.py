"""The one loop every consumer shares: poll a batch, write it, dead-letter the refused, commit.

Offsets are committed only after the sink has written the batch and the dead letters are in
Kafka. While the store is unavailable the batch is retried with backoff and nothing is
committed, so a stopped store pauses its consumer instead of losing events.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from app.consumers.dead_letter import dead_letter_message
from app.consumers.offset_gaps import OffsetGap
from app.consumers.records import Decoded, SourceRecord, UndecodableRecord, decode_event
from app.consumers.sink import Sink
from app.db.errors import StoreUnavailable
from app.metrics import (
    CONSUMER_LAG,
    CONSUMER_OFFSET_GAPS,
    DEAD_LETTERS,
    REBALANCES,
    ROWS_WRITTEN,
    STORE_RETRIES,
)
from app.producers.kafka import OutgoingMessage, Publisher, PublishUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
GapRecorder = Callable[[OffsetGap], Awaitable[None]]


class _Stopped:
    """What a retried action yields when the runner stops before it succeeds."""


@dataclass(frozen=True)
class RunnerConfig:
    bootstrap_servers: str
    group_id: str
    topics: tuple[str, ...]
    dead_letter_topic: str
    batch_size: int = 500
    poll_timeout_ms: int = 500
    max_backoff_seconds: float = 10.0


class PartitionWatch(ConsumerRebalanceListener):
    """Says when partitions come and go, and checks each partition it is given for offsets
    that retention removed before the group read them (Kafka would resume at the log's start
    without a word). Offsets are committed right after each write, so a revocation leaves
    nothing to commit; a batch written while its partitions moved is written again by their
    new owner, idempotently."""

    def __init__(self, group_id: str, on_gap: GapRecorder | None) -> None:
        self.group_id, self.on_gap = group_id, on_gap
        self.consumer: AIOKafkaConsumer | None = None  # set once the consumer exists

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            REBALANCES.labels(self.group_id).inc()
            log.info(
                "partitions revoked",
                extra={"group": self.group_id, "partitions": sorted(map(str, revoked))},
            )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info(
            "partitions assigned",
            extra={"group": self.group_id, "partitions": sorted(map(str, assigned))},
        )
        try:
            for gap in await self._gaps(sorted(assigned)):
                await self._report(gap)
        except Exception:  # the check must never stop the consuming
            log.exception("checking for offsets lost to retention failed")

    async def _gaps(self, partitions: list[TopicPartition]) -> list[OffsetGap]:
        if self.consumer is None or not partitions:
            return []
        starts = await self.consumer.beginning_offsets(partitions)
        gaps = []
        for tp in partitions:
            committed = await self.consumer.committed(tp)
            if committed is not None and committed < starts[tp]:
                gaps.append(OffsetGap(self.group_id, tp.topic, tp.partition, committed, starts[tp]))
        return gaps

    async def _report(self, gap: OffsetGap) -> None:
        CONSUMER_OFFSET_GAPS.labels(self.group_id).inc(gap.messages)
        log.error(
            "offsets lost to retention before this group read them",
            extra={"group": gap.group_id, "topic": gap.topic, "partition": gap.partition,
                   "missing_from": gap.missing_from, "missing_until": gap.missing_until},
        )  # fmt: skip
        if self.on_gap is None:
            return
        try:
            await self.on_gap(gap)
        except Exception:  # logged and counted above; the table is for later readers
            log.warning("the gap could not be recorded", exc_info=True)


class ConsumerRunner:
    def __init__(
        self,
        config: RunnerConfig,
        sink: Sink,
        dead_letters: Publisher,
        decode: Callable[[SourceRecord], Decoded] = decode_event,
        on_gap: GapRecorder | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.dead_letters = dead_letters
        self.decode = decode
        self.on_gap = on_gap
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer = await self._retry_until_stopped("start the Kafka consumer", self._new_consumer)
        if isinstance(consumer, _Stopped):
            return
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(
                    timeout_ms=self.config.poll_timeout_ms, max_records=self.config.batch_size
                )
                if batches and await self._process(batches):
                    await self._commit(consumer, batches)
                await self._report_lag(consumer)
        finally:
            await consumer.stop()

    async def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap_servers,
            group_id=self.config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.config.batch_size,
        )
        watch = PartitionWatch(self.config.group_id, self.on_gap)
        watch.consumer = consumer
        consumer.subscribe(self.config.topics, listener=watch)
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    async def _process(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> bool:
        """Write the batch; False if stopping interrupted it (then nothing may be committed)."""
        decoded: list[Decoded] = []
        refused: list[tuple[SourceRecord, str]] = []
        for records in batches.values():
            for record in records:
                source = SourceRecord(
                    record.topic, record.partition, record.offset, record.key, record.value
                )
                try:
                    decoded.append(self.decode(source))
                except UndecodableRecord as error:
                    refused.append((source, f"undecodable: {error}"))
        if decoded:
            failures = await self._retry_until_stopped(
                f"write to {self.sink.name}", lambda: self.sink.write(decoded)
            )
            if isinstance(failures, _Stopped):
                return False
            refused += [(decoded[index].source, reason) for index, reason in failures.items()]
            ROWS_WRITTEN.labels(self.sink.name).inc(len(decoded) - len(failures))
        if refused:
            messages = [self._dead_letter(source, reason) for source, reason in refused]
            published = await self._retry_until_stopped(
                "publish dead letters", lambda: self.dead_letters.publish(messages)
            )
            if isinstance(published, _Stopped):
                return False
        return True

    def _dead_letter(self, source: SourceRecord, reason: str) -> OutgoingMessage:
        DEAD_LETTERS.labels(self.config.group_id, reason.split(":", 1)[0]).inc()
        log.warning(
            "dead-lettered a record",
            extra={
                "topic": source.topic,
                "partition": source.partition,
                "offset": source.offset,
                "reason": reason,
            },
        )
        return dead_letter_message(
            source, reason, self.config.group_id, self.config.dead_letter_topic
        )

    async def _retry_until_stopped(
        self, what: str, action: Callable[[], Awaitable[T]]
    ) -> T | _Stopped:
        """Run `action` until it succeeds (its result) or the runner is stopped."""
        delay = 0.2
        while True:
            try:
                return await action()
            except (StoreUnavailable, PublishUnavailable, KafkaError, OSError) as error:
                STORE_RETRIES.labels(self.sink.name).inc()
                log.warning(f"could not {what}, retrying", extra={"error": str(error)})
            try:
                await asyncio.wait_for(self._stopping.wait(), delay * random.uniform(0.5, 1.5))
                return _Stopped()
            except TimeoutError:
                delay = min(delay * 2, self.config.max_backoff_seconds)

    async def _commit(
        self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        assigned = consumer.assignment()
        offsets = {
            tp: records[-1].offset + 1
            for tp, records in batches.items()
            if records and tp in assigned
        }
        if not offsets:
            log.warning("the batch's partitions moved before its commit; their owner re-reads it")
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as error:
            # A rebalance took the partitions away; their new owner re-reads the batch, and
            # the writes are idempotent, so nothing is lost or doubled.
            log.warning("commit failed after a rebalance", extra={"error": str(error)})

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await consumer.position(tp)
            except IllegalStateError:  # revoked meanwhile
                continue
            CONSUMER_LAG.labels(self.config.group_id, tp.topic, str(tp.partition)).set(
                max(0, highwater - position)
            )
