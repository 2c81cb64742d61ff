"""The consumer groups of the pipeline: each reads its topics into one sink."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.config import MOVIE_TOPIC, USER_TOPICS, Settings
from app.consumers.mongo_backup import MongoBackupSink
from app.consumers.mongo_movies import MongoMovieVersionsSink
from app.consumers.postgres_movies import PostgresMoviesSink
from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.records import Decoded, SourceRecord, decode_event
from app.consumers.runner import ConsumerRunner, RunnerConfig
from app.consumers.sink import Sink
from app.movies import decode_movie
from app.producers.kafka import KafkaPublisher


@dataclass(frozen=True)
class ConsumerGroup:
    topics: tuple[str, ...]
    decode: Callable[[SourceRecord], Decoded]
    sink: Callable[[Settings], Sink]


EVENT_TOPICS = tuple(USER_TOPICS.values())
GROUPS: dict[str, ConsumerGroup] = {
    "mongo-backup": ConsumerGroup(
        EVENT_TOPICS, decode_event, lambda s: MongoBackupSink(s.mongo_url, s.mongo_database)
    ),
    "postgres-staging": ConsumerGroup(
        EVENT_TOPICS, decode_event, lambda s: PostgresStagingSink(s.database_url)
    ),
    "movie-mongo-backup": ConsumerGroup(
        (MOVIE_TOPIC,),
        decode_movie,
        lambda s: MongoMovieVersionsSink(s.mongo_url, s.mongo_database),
    ),
    "movie-postgres-staging": ConsumerGroup(
        (MOVIE_TOPIC,), decode_movie, lambda s: PostgresMoviesSink(s.database_url)
    ),
}


def build_runner(group_id: str, settings: Settings, dead_letters: KafkaPublisher) -> ConsumerRunner:
    group = GROUPS[group_id]
    config = RunnerConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        topics=group.topics,
        dead_letter_topic=settings.dead_letter_topic,
        batch_size=settings.consumer_batch_size,
    )
    return ConsumerRunner(config, group.sink(settings), dead_letters, group.decode)
