"""The consumer groups of the pipeline: each reads its topics into one sink."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pymongo.asynchronous.collection import AsyncCollection

from app.audit.dead_letter_ledger import DeadLetterRow, record_dead_letters
from app.audit.receipts import AcknowledgedSink, decode_receipt
from app.bootstrap import Resources
from app.consumers.mongo_backup import MongoBackupSink
from app.consumers.mongo_movies import MongoMovieVersionsSink
from app.consumers.movie_records import decode_movie
from app.consumers.offset_gaps import record_gap
from app.consumers.postgres_movies import PostgresMoviesSink
from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.records import Decoded, SourceRecord, decode_backed_up, decode_event
from app.consumers.runner import ConsumerRunner, RunnerConfig
from app.consumers.sink import Sink
from app.topics import MOVIE_TOPIC, RECEIPTS_TOPIC, SEGMENT_TOPIC, USER_TOPICS


@dataclass(frozen=True)
class ConsumerGroup:
    topics: tuple[str, ...]
    decode: Callable[[SourceRecord], Decoded]
    sink: Callable[[Resources], Sink]
    audited: bool = False  # its dead letters are events the audit accounts for


def raw_collection(resources: Resources, name: str) -> AsyncCollection:
    return resources.mongo[resources.settings.mongo_database][name]


EVENT_TOPICS = tuple(USER_TOPICS.values())
GROUPS: dict[str, ConsumerGroup] = {
    # Segment messages kept raw are backed up beside the events, in raw.user_logs, where an
    # erasure, a replay and the audit's backup count find them as they find events.
    "mongo-backup": ConsumerGroup(
        (*EVENT_TOPICS, SEGMENT_TOPIC),
        decode_backed_up,
        lambda r: MongoBackupSink(
            raw_collection(r, "user_logs"), raw_collection(r, "forgotten_users"), r.postgres
        ),
        audited=True,
    ),
    "postgres-staging": ConsumerGroup(
        EVENT_TOPICS, decode_event, lambda r: PostgresStagingSink(r.postgres), audited=True
    ),
    "audit-receipts": ConsumerGroup(
        (RECEIPTS_TOPIC,), decode_receipt, lambda r: AcknowledgedSink(r.postgres)
    ),
    "movie-mongo-backup": ConsumerGroup(
        (MOVIE_TOPIC,), decode_movie, lambda r: MongoMovieVersionsSink(raw_collection(r, "movies"))
    ),
    "movie-postgres-staging": ConsumerGroup(
        (MOVIE_TOPIC,), decode_movie, lambda r: PostgresMoviesSink(r.postgres)
    ),
}


def build_runner(group_id: str, resources: Resources) -> ConsumerRunner:
    group, settings = GROUPS[group_id], resources.settings
    config = RunnerConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        topics=group.topics,
        dead_letter_topic=settings.dead_letter_topic,
        batch_size=settings.consumer_batch_size,
    )

    async def record_refused(refused: list[tuple[SourceRecord, str]]) -> None:
        rows = [DeadLetterRow(group_id, source, reason) for source, reason in refused]
        await record_dead_letters(resources.postgres, rows)

    return ConsumerRunner(
        config, group.sink(resources), resources.publisher, group.decode,
        on_gap=lambda gap: record_gap(resources.postgres, gap),
        on_dead_letters=record_refused if group.audited else None,
    )  # fmt: skip
