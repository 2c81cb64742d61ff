"""What Spark could skip in silence is caught: a checkpoint wiped at the same path skips no
batch, and offsets lost to retention are recorded as a gap."""

from __future__ import annotations

import asyncio
import shutil
import uuid

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from app.model.spark_stream import spark_config
from jobs.rules import load_rules
from jobs.spark.stream import StreamConfig, run_stream
from tests.event_factory import new_event

RULES = load_rules()


async def produce(settings, topic: str, user: str, count: int) -> list[str]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    ids = []
    try:
        for _ in range(count):
            event = new_event("click", user)
            stored = {**event, "received_at": event["occurred_at"], "schema_version": 1}
            await producer.send_and_wait(topic, orjson.dumps(stored), key=user.encode())
            ids.append(event["event_id"])
    finally:
        await producer.stop()
    return ids


async def facts_of(pg, ids: list[str]) -> int:
    return await pg.fetchval(
        "SELECT count(*) FROM fact_user_event WHERE event_id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in ids],
    )


def stream_on(settings, topic: str, checkpoint: str, starting: str = "earliest") -> StreamConfig:
    return StreamConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers, topics=(topic,),
        checkpoint_dir=checkpoint, database_url=settings.database_url,
        starting_offsets=starting, available_now=True, spark=spark_config(settings),
    )  # fmt: skip


async def test_a_wiped_checkpoint_skips_no_batch_and_is_reported(
    settings, pg, kafka_topic, unique, tmp_path
):
    checkpoint = str(tmp_path / "checkpoint")
    first = await produce(settings, kafka_topic, f"reset-{unique}", 3)
    await asyncio.to_thread(run_stream, stream_on(settings, kafka_topic, checkpoint), RULES)
    assert await facts_of(pg, first) == 3

    shutil.rmtree(checkpoint)  # the same path, started afresh: batch ids count from 0 again
    later = await produce(settings, kafka_topic, f"reset-{unique}", 3)
    starting = orjson.dumps({kafka_topic: {"0": 3}}).decode()
    await asyncio.to_thread(
        run_stream, stream_on(settings, kafka_topic, checkpoint, starting), RULES
    )

    assert await facts_of(pg, later) == 3, "the new checkpoint's batch 0 was skipped"
    resets = await pg.fetchval(
        "SELECT count(*) FROM spark_checkpoint_resets WHERE stream = $1", checkpoint
    )
    assert resets == 1


async def test_offsets_lost_to_retention_are_recorded_as_a_gap(
    settings, pg, kafka_topic, unique, tmp_path
):
    checkpoint = str(tmp_path / "checkpoint")
    await produce(settings, kafka_topic, f"gap-{unique}", 3)
    await asyncio.to_thread(run_stream, stream_on(settings, kafka_topic, checkpoint), RULES)
    lost = await produce(settings, kafka_topic, f"gap-{unique}", 3)  # offsets 3, 4, 5
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:  # as retention would: gone before Spark read them
        await admin.delete_records({TopicPartition(kafka_topic, 0): RecordsToDelete(6)})
    finally:
        await admin.close()
    kept = await produce(settings, kafka_topic, f"gap-{unique}", 2)  # offsets 6, 7
    await asyncio.to_thread(run_stream, stream_on(settings, kafka_topic, checkpoint), RULES)

    assert await facts_of(pg, kept) == 2 and await facts_of(pg, lost) == 0
    gaps = await pg.fetch(
        "SELECT missing_from, missing_until FROM spark_offset_gaps WHERE stream = $1", checkpoint
    )
    assert [tuple(gap) for gap in gaps] == [(3, 6)]
