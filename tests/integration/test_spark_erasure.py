"""Spark reading a listed (erased) user's events from Kafka writes no fact or session of
theirs."""

from __future__ import annotations

import asyncio

import orjson
from aiokafka import AIOKafkaProducer

from app.model.spark_stream import spark_config
from jobs.forgotten_users import user_hash
from jobs.rules import load_rules
from jobs.spark.stream import StreamConfig, run_stream
from tests.event_factory import new_event


async def test_spark_writes_no_fact_or_session_of_a_listed_user(
    settings, pg, kafka_topic, unique, tmp_path
):
    gone, kept = f"gone-{unique}", f"kept-{unique}"
    await pg.execute("INSERT INTO forgotten_users (user_hash) VALUES ($1)", user_hash(gone))
    events = [new_event("click", user) for user in (gone, kept, gone, kept)]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            stored = {**event, "received_at": event["occurred_at"], "schema_version": 1}
            await producer.send_and_wait(kafka_topic, orjson.dumps(stored), key=b"k")
    finally:
        await producer.stop()
    stream = StreamConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers, topics=(kafka_topic,),
        checkpoint_dir=str(tmp_path / "checkpoint"), database_url=settings.database_url,
        starting_offsets="earliest", available_now=True, spark=spark_config(settings),
    )  # fmt: skip
    await asyncio.to_thread(run_stream, stream, load_rules())
    for table in ("fact_user_event", "dim_session"):
        rows = await pg.fetch(
            f"SELECT user_id FROM {table} WHERE user_id = ANY($1::text[])", [gone, kept]
        )
        assert {row["user_id"] for row in rows} == {kept}, table
