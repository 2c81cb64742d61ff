"""The consumer groups of the pipeline, each a runner around one sink."""

from __future__ import annotations

from app.config import USER_TOPICS, Settings
from app.consumers.mongo_backup import MongoBackupSink
from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.runner import ConsumerRunner, RunnerConfig
from app.consumers.sink import Sink
from app.producers.kafka import KafkaPublisher

GROUPS = ("mongo-backup", "postgres-staging")


def build_sink(group_id: str, settings: Settings) -> Sink:
    if group_id == "mongo-backup":
        return MongoBackupSink(settings.mongo_url, settings.mongo_database)
    if group_id == "postgres-staging":
        return PostgresStagingSink(settings.database_url)
    raise ValueError(f"unknown consumer group {group_id!r}; known: {', '.join(GROUPS)}")


def build_runner(group_id: str, settings: Settings, dead_letters: KafkaPublisher) -> ConsumerRunner:
    config = RunnerConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        topics=tuple(USER_TOPICS.values()),
        dead_letter_topic=settings.dead_letter_topic,
        batch_size=settings.consumer_batch_size,
    )
    return ConsumerRunner(config, build_sink(group_id, settings), dead_letters)
