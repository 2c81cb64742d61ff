"""Offsets Kafka's retention removed before a consumer group read them: recorded, never
skipped in silence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from app.db.postgres import PostgresPool


@dataclass(frozen=True)
class OffsetGap:
    group_id: str
    topic: str
    partition: int
    missing_from: int  # the group's committed offset
    missing_until: int  # the log's start when the group got there

    @property
    def messages(self) -> int:
        return self.missing_until - self.missing_from


def gaps_between(
    group_id: str,
    expected: Mapping[TopicPartition, int],
    batches: Mapping[TopicPartition, list[Any]],
) -> list[OffsetGap]:
    """Partitions whose batch starts past the offset expected next. Our producers are
    idempotent, not transactional, so their offsets have no holes of their own: a jump is
    Kafka resuming at the log's start after retention removed what was next."""
    gaps = []
    for tp, records in batches.items():
        want = expected.get(tp)
        if records and want is not None and records[0].offset > want:
            gaps.append(OffsetGap(group_id, tp.topic, tp.partition, want, records[0].offset))
    return gaps


async def record_gap(postgres: PostgresPool, gap: OffsetGap) -> None:
    """Once per gap: a group reassigned before it commits past the gap finds it again."""
    async with postgres.connection() as connection:
        await connection.execute(
            "INSERT INTO consumer_offset_gaps (group_id, topic, kafka_partition, missing_from, "
            "missing_until) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            gap.group_id, gap.topic, gap.partition, gap.missing_from, gap.missing_until,
        )  # fmt: skip


async def messages_lost_by_group(connection: asyncpg.Connection) -> dict[str, int]:
    rows = await connection.fetch(
        "SELECT group_id, sum(missing_until - missing_from)::bigint AS lost "
        "FROM consumer_offset_gaps GROUP BY group_id ORDER BY group_id"
    )
    return {row["group_id"]: row["lost"] for row in rows}
