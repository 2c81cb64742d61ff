"""Offsets Kafka's retention removed before a consumer group read them are recorded and
reported, never skipped in silence."""

from __future__ import annotations

import asyncio

import orjson
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from prometheus_client import REGISTRY

from app.bootstrap import build_resources
from app.consumers.offset_gaps import record_gap
from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.runner import ConsumerRunner, RunnerConfig
from tests.event_factory import new_event
from tests.integration.test_consumer_runner import (
    committed_offset,
    create_topics,
    produce,
    stored,
    wait_for_staged,
)
from tests.support import get_ready


async def consume_until_staged(
    settings, pg, config: RunnerConfig, event_ids: list[str], committed_at: int
) -> None:
    async with build_resources(settings) as resources:
        runner = ConsumerRunner(
            config, PostgresStagingSink(resources.postgres), resources.publisher,
            on_gap=lambda gap: record_gap(resources.postgres, gap),
        )  # fmt: skip
        task = asyncio.create_task(runner.run())
        try:
            await wait_for_staged(pg, event_ids)
            async with asyncio.timeout(30):  # the commit follows the write
                while True:
                    done = await committed_offset(settings, config.group_id, config.topics[0])
                    if done == committed_at:
                        break
                    await asyncio.sleep(0.2)
        finally:
            runner.stop()
            await task


def lost_counted(group: str) -> float:
    value = REGISTRY.get_sample_value("consumer_offset_gap_messages_total", {"group": group})
    return value or 0.0


async def test_a_gap_left_by_retention_is_recorded_and_reported(settings, pg, unique):
    topic, dead, group = f"gaps_{unique}", f"gaps_dead_{unique}", f"gaps-{unique}"
    await create_topics(settings, topic, dead)
    config = RunnerConfig(settings.kafka_bootstrap_servers, group, (topic,), dead, batch_size=10)
    user = f"gaps-{unique}"

    async def send(count: int) -> list[str]:
        events = [new_event("click", user) for _ in range(count)]
        await produce(settings, topic, [orjson.dumps(stored(e)) for e in events], user.encode())
        return [event["event_id"] for event in events]

    await consume_until_staged(settings, pg, config, await send(3), committed_at=3)
    lost = await send(3)  # offsets 3, 4 and 5, removed before the group reads them
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(6)})
    finally:
        await admin.close()
    before = lost_counted(group)
    await consume_until_staged(settings, pg, config, await send(2), committed_at=8)

    try:
        gaps = await pg.fetch(
            "SELECT topic, kafka_partition, missing_from, missing_until FROM "
            "consumer_offset_gaps WHERE group_id = $1",
            group,
        )
        assert [tuple(gap) for gap in gaps] == [(topic, 0, 3, 6)]
        assert lost_counted(group) - before == 3
        assert (
            await pg.fetchval(
                "SELECT count(*) FROM stg_user_logs WHERE event_id::text = ANY($1::text[])", lost
            )
            == 0
        )
        assert (await get_ready(settings)).json()["consumer_offset_gaps"][group] == 3
    finally:
        await pg.execute("DELETE FROM consumer_offset_gaps WHERE group_id = $1", group)
