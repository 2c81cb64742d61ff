"""The Spark stream's plain configuration, from Settings: the engine in jobs/ reads no settings."""

from __future__ import annotations

from app.config import USER_TOPICS, Settings
from jobs.spark.session import SparkConfig
from jobs.spark.stream import StreamConfig


def spark_config(settings: Settings) -> SparkConfig:
    return SparkConfig(
        master=settings.spark_master,
        driver_memory=settings.spark_driver_memory,
        jars=split_list(settings.spark_jars),
        packages=split_list(settings.spark_jars_packages),
    )


def stream_config(settings: Settings, available_now: bool) -> StreamConfig:
    return StreamConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topics=tuple(USER_TOPICS.values()),
        checkpoint_dir=settings.spark_checkpoint_dir,
        database_url=settings.database_url,
        starting_offsets=settings.spark_starting_offsets,
        max_offsets_per_trigger=settings.spark_max_offsets_per_trigger,
        trigger_seconds=settings.spark_trigger_seconds,
        available_now=available_now,
        spark=spark_config(settings),
    )


def split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())
