"""pyspark with the Kafka source reads records (availableNow) and writes them through JDBC."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from app.config import Settings
from app.model.spark_stream import spark_config
from jobs.spark.session import build_spark_session, jdbc_options


def copy_topic_to_table(settings, topic: str, table: str, checkpoint: str) -> None:
    spark = build_spark_session("smoke-test", spark_config(Settings()))
    records = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("CAST(key AS STRING) AS user_id", "CAST(value AS STRING) AS body", "offset")
    )

    def write_batch(batch, _batch_id: int) -> None:
        batch.write.format("jdbc").options(
            **jdbc_options(settings.database_url), dbtable=table
        ).mode("append").save()

    query = (
        records.writeStream.trigger(availableNow=True)
        .option("checkpointLocation", checkpoint)
        .foreachBatch(write_batch)
        .start()
    )
    query.awaitTermination()


async def test_spark_reads_kafka_and_writes_postgres(settings, kafka_topic, pg, unique, tmp_path):
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(kafka_topic, key=f"user-{n}".encode(), value=b"watch")
    finally:
        await producer.stop()

    table = f"smoke_spark_{unique}"
    try:
        await asyncio.to_thread(
            copy_topic_to_table, settings, kafka_topic, table, str(tmp_path / "checkpoint")
        )
        rows = await pg.fetch(f'SELECT user_id, body, "offset" FROM {table} ORDER BY 3')
    finally:
        await pg.execute(f"DROP TABLE IF EXISTS {table}")
    assert [(r["user_id"], r["body"], r["offset"]) for r in rows] == [
        (f"user-{n}", "watch", n) for n in range(5)
    ]
