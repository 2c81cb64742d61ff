"""The dead-letter topic: what no consumer could decode or store, with why and whence."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from app.consumers.records import SourceRecord
from app.producers.kafka_admin import cluster_metadata
from app.producers.messages import OutgoingMessage

REASON_HEADER = "dead_letter.reason"


def dead_letter_message(
    source: SourceRecord, reason: str, group_id: str, topic: str
) -> OutgoingMessage:
    headers = (
        (REASON_HEADER, reason[:2000].encode()),
        ("dead_letter.origin_topic", source.topic.encode()),
        ("dead_letter.origin_partition", str(source.partition).encode()),
        ("dead_letter.origin_offset", str(source.offset).encode()),
        ("dead_letter.consumer_group", group_id.encode()),
    )
    return OutgoingMessage(topic, source.key or b"", source.value or b"", headers)


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic, as a consumer group refused it."""

    partition: int
    offset: int
    written_at: datetime
    reason: str
    group: str
    origin_topic: str
    origin_partition: int
    origin_offset: int
    key: bytes
    value: bytes

    @property
    def origin(self) -> str:
        return f"{self.origin_topic}/{self.origin_partition}@{self.origin_offset}"


def number(header: str | None) -> int:
    """A header's number, or -1 when it is missing or not one (a record written by hand)."""
    try:
        return int(header) if header is not None else -1
    except ValueError:
        return -1


def parsed(record: ConsumerRecord) -> DeadLetter:
    headers = {name: value.decode(errors="replace") for name, value in record.headers or ()}
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        written_at=datetime.fromtimestamp(record.timestamp // 1000, UTC).replace(
            microsecond=record.timestamp % 1000 * 1000  # exact: no float on the way
        ),
        reason=headers.get(REASON_HEADER, ""),
        group=headers.get("dead_letter.consumer_group", ""),
        origin_topic=headers.get("dead_letter.origin_topic", ""),
        origin_partition=number(headers.get("dead_letter.origin_partition")),
        origin_offset=number(headers.get("dead_letter.origin_offset")),
        key=record.key or b"",
        value=record.value or b"",
    )


async def read_dead_letters(
    bootstrap_servers: str,
    topic: str,
    keep: Callable[[DeadLetter], bool],
    limit: int,
    timeout_seconds: float = 30,
) -> list[DeadLetter]:
    """The dead letters `keep` chooses, read from the start of the topic up to its end as it
    was when asked (what is dead-lettered meanwhile waits for the next reading); at most
    `limit` records and `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    cluster = await cluster_metadata(bootstrap_servers)
    partitions = [
        TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())
    ]
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found, read = [], 0
        pending = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        while pending and read < limit and time.monotonic() < deadline:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=1000)
            for tp, records in batches.items():
                for record in records:
                    read += 1
                    if record.offset < ends[tp] and keep(letter := parsed(record)):
                        found.append(letter)
            for tp in list(pending):  # a partition may reach its end without a record
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return found
    finally:
        await consumer.stop()


async def read_dead_letter_at(
    bootstrap_servers: str, topic: str, partition: int, offset: int, timeout_seconds: float = 10
) -> DeadLetter | None:
    """The one dead letter at these coordinates, read from there: not a scan of the topic."""
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        first, end = (
            (await consumer.beginning_offsets([tp]))[tp],
            (await consumer.end_offsets([tp]))[tp],
        )
        if not first <= offset < end:
            return None
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            for record in (await consumer.getmany(tp, timeout_ms=1000, max_records=1)).get(tp, []):
                return parsed(record) if record.offset == offset else None
        return None
    finally:
        await consumer.stop()
