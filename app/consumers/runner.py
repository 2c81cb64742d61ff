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
from app.consumers.offset_gaps import OffsetGap, gaps_between
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
from app.producers.kafka import Publisher, PublishUnavailable
from app.producers.messages import OutgoingMessage

log = logging.getLogger(__name__)
T = TypeVar("T")
GapRecorder = Callable[[OffsetGap], Awaitable[None]]
# After the dead letters are in Kafka and before the commit: each refused record and why.
DeadLetterRecorder = Callable[[list[tuple[SourceRecord, str]]], Awaitable[None]]
GAP_RECORD_SECONDS = 5.0  # a rebalance waits for it: a store that hangs must not hold the group


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
    """Says when partitions come and go, and finds offsets that retention removed before the
    group read them, which Kafka would skip without a word: when a partition is given (its
    committed offset is older than the log's start) and while it is read (a batch starts past
    the offset the last one ended at). Offsets are committed right after each write, so a
    revocation leaves nothing to commit; a batch written while its partitions moved is written
    again by their new owner, idempotently."""

    def __init__(self, group_id: str, on_gap: GapRecorder | None) -> None:
        self.group_id, self.on_gap = group_id, on_gap
        self.consumer: AIOKafkaConsumer | None = None  # set once the consumer exists
        self.expected: dict[TopicPartition, int] = {}  # the next offset of each partition

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:  # its next owner may move it on
            self.expected.pop(tp, None)
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
            for gap in await self._gaps_at_assignment(sorted(assigned)):
                await self.report(gap)
        except Exception:  # the check must never stop the consuming
            log.exception("checking for offsets lost to retention failed")

    async def _gaps_at_assignment(self, partitions: list[TopicPartition]) -> list[OffsetGap]:
        if self.consumer is None or not partitions:
            return []
        starts = await self.consumer.beginning_offsets(partitions)
        gaps = []
        for tp in partitions:
            committed = await self.consumer.committed(tp)
            if committed is None:
                continue
            if committed < starts[tp]:
                gaps.append(OffsetGap(self.group_id, tp.topic, tp.partition, committed, starts[tp]))
            self.expected[tp] = max(committed, starts[tp])
        return gaps

    async def check_batches(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Before a batch is written: a first offset past the expected one is a gap."""
        for gap in gaps_between(self.group_id, self.expected, batches):
            await self.report(gap)

    def read_through(
        self, batches: dict[TopicPartition, list[ConsumerRecord]], assigned: set[TopicPartition]
    ) -> None:
        """After a batch is committed, for the partitions this consumer still owns."""
        for tp, records in batches.items():
            if records and tp in assigned:
                self.expected[tp] = records[-1].offset + 1

    async def report(self, gap: OffsetGap) -> None:
        CONSUMER_OFFSET_GAPS.labels(self.group_id).inc(gap.messages)
        log.error(
            "offsets lost to retention before this group read them",
            extra={"group": gap.group_id, "topic": gap.topic, "partition": gap.partition,
                   "missing_from": gap.missing_from, "missing_until": gap.missing_until},
        )  # fmt: skip
        if self.on_gap is None:
            return
        try:
            async with asyncio.timeout(GAP_RECORD_SECONDS):
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
        on_dead_letters: DeadLetterRecorder | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.dead_letters = dead_letters
        self.decode = decode
        self.on_gap = on_gap
        self.on_dead_letters = on_dead_letters
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        started = await self._retry_until_stopped("start the Kafka consumer", self._new_consumer)
        if isinstance(started, _Stopped):
            return
        consumer, watch = started
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(
                    timeout_ms=self.config.poll_timeout_ms, max_records=self.config.batch_size
                )
                if batches:
                    await watch.check_batches(batches)
                if batches and await self._process(batches):
                    await self._commit(consumer, batches)
                    watch.read_through(batches, consumer.assignment())
                await self._report_lag(consumer)
        finally:
            await consumer.stop()

    async def _new_consumer(self) -> tuple[AIOKafkaConsumer, PartitionWatch]:
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
        return consumer, watch

    async def _process(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> bool:
        """Write the batch; False if stopping interrupted it (then nothing may be committed)."""
        decoded: list[Decoded] = []
        refused: list[tuple[SourceRecord, str]] = []
        for records in batches.values():
            for record in records:
                source = SourceRecord(
                    record.topic, record.partition, record.offset, record.key, record.value,
                    record.timestamp,
                )  # fmt: skip
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
            if (record := self.on_dead_letters) is not None:
                recorded = await self._retry_until_stopped(
                    "record dead letters", lambda: record(refused)
                )
                if isinstance(recorded, _Stopped):
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
