"""Spark-only checks of jobs/spark/records.py and transforms.py: parsing Kafka records, the
facts a batch sends to its merge, the types the model tables expect, and comments read exactly
as in Python."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from app.config import Settings
from app.model.spark_stream import spark_config
from jobs.rules import load_rules
from jobs.sentiment import read_comment
from jobs.spark import records, transforms
from jobs.spark.comments import comment_reading
from jobs.spark.session import build_spark_session

RULES = load_rules()
KAFKA_SCHEMA = "value binary, topic string, partition int, offset long"
BAD_FIELD = "not JSON, or a field of the wrong type or format"
EVENT_ID = "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"


def stored_event(**overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": EVENT_ID, "event_type": "watch", "user_id": "u-1", "session_id": None,
        "movie_id": 550, "occurred_at": "2026-11-20T10:00:00+00:00",
        "received_at": "2026-11-20T10:00:01.250000+00:00", "schema_version": 1,
        "context": {"page": "/movie/550", "device": "tv", "user_agent": "pytest"},
        "payload": {"action": "progress", "position_seconds": 61.5, "duration_seconds": 7200.0},
    }  # fmt: skip
    return event | overrides


def kafka_frame(spark: SparkSession, values: list[bytes | None], topic: str = "t") -> DataFrame:
    rows = [(value, topic, 0, offset) for offset, value in enumerate(values)]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def as_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = build_spark_session("spark-transforms-test", spark_config(Settings()))
    yield session
    session.stop()


def test_adaptive_execution_is_off_by_default(spark) -> None:
    assert spark.conf.get("spark.sql.adaptive.enabled") == "false"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:00:00+00:00", datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),
        ("2026-11-20T10:00:00.123456+00:00", datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-20T10:00:00+02:00", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
        ("2026-11-20T10:00:00.5-05:30", datetime(2026, 11, 20, 15, 30, 0, 500000, tzinfo=UTC)),
        ("2026-11-20T10:00:00+05:30:15", datetime(2026, 11, 20, 4, 29, 45, tzinfo=UTC)),
        ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),
    ],
)
def test_parse_events_reads_isoformat_timestamps(spark, text: str, expected: datetime) -> None:
    assert datetime.fromisoformat(text) == expected  # what Python makes of the same text
    source = kafka_frame(spark, [as_bytes(stored_event(occurred_at=text))])
    [row] = records.parse_events(source).collect()
    assert row["occurred_at"].astimezone(UTC) == expected  # Spark hands back naive local time


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, "empty"),
        (b"", "empty"),
        (b"not json", BAD_FIELD),
        (b"[1, 2]", BAD_FIELD),
        (as_bytes(stored_event(movie_id="550")), BAD_FIELD),
        (b'{"event_id": "%s", "payload": {"rating": NaN}}' % EVENT_ID.encode(),
         BAD_FIELD),
        (as_bytes(stored_event(occurred_at="2026-11-20T10:00:00")), BAD_FIELD),  # no offset
        (as_bytes(stored_event(received_at="2026-11-20 10:00:00+00:00")), BAD_FIELD),
        (as_bytes(stored_event(received_at="20.11.2026")), BAD_FIELD),
        (as_bytes(stored_event(occurred_at=None)), "no occurred_at"),
        (as_bytes({k: v for k, v in stored_event().items() if k != "user_id"}), "no user_id"),
        (as_bytes(stored_event(event_type=None)), "no event_type"),
        (as_bytes(stored_event(event_id="12345")), "event_id is not a UUID"),
    ],
)  # fmt: skip
def test_malformed_records_are_flagged_and_left_out(spark, value, error: str) -> None:
    good = as_bytes(stored_event(event_id=EVENT_ID.upper()))
    source = kafka_frame(spark, [good, value])
    errors = [row["parse_error"] for row in records.parse_records(source).collect()]
    assert errors == [None, error]
    [event] = records.parse_events(source).collect()
    assert event["event_id"] == EVENT_ID  # lower-case, as the uuid column prints it
    assert tuple(records.parse_events(source).columns) == records.EVENT_COLUMNS


def test_parsed_event_keeps_context_payload_and_kafka_position(spark) -> None:
    source = kafka_frame(spark, [as_bytes(stored_event())], topic="user_watch_log")
    [row] = records.parse_events(source).collect()
    assert row["context"]["device"] == "tv" and row["context"]["locale"] is None
    assert row["payload"]["position_seconds"] == 61.5 and row["payload"]["text"] is None
    assert (row["topic"], row["partition"], row["offset"], row["movie_id"]) == (
        "user_watch_log", 0, 0, 550,
    )  # fmt: skip


def test_incoming_facts_keep_every_copy_with_its_kafka_position(spark) -> None:
    """The merge picks the first copy of an event (test_spark_merge.py), so none is dropped
    here; records that did not parse are."""
    retried = stored_event(received_at="2026-11-20T10:00:09+00:00")
    source = kafka_frame(spark, [as_bytes(retried), b"{", as_bytes(stored_event())], topic="w")
    facts = transforms.incoming_facts(transforms.fact_records(records.parse_records(source), RULES))
    rows = facts.orderBy("kafka_offset").collect()
    assert [(r["kafka_topic"], r["kafka_partition"], r["kafka_offset"]) for r in rows] == [
        ("w", 0, 0), ("w", 0, 2),
    ]  # fmt: skip
    assert {row["event_id"] for row in rows} == {EVENT_ID}
    assert [row["received_at"].second for row in rows] == [9, 1]


def test_model_columns_have_the_table_types(spark) -> None:
    source = kafka_frame(spark, [as_bytes(stored_event())])
    facts = transforms.build_facts(records.parse_events(source), RULES)
    sessions = transforms.build_sessions(facts, RULES)
    fact_types = dict(facts.dtypes)
    assert {fact_types[c] for c in ("event_id", "event_type", "invalid_reason")} == {"string"}
    assert (fact_types["movie_id"], fact_types["event_date"], fact_types["event_hour"]) == (
        "bigint", "date", "int",
    )  # fmt: skip
    assert fact_types["occurred_at"] == fact_types["received_at"] == "timestamp"
    assert {fact_types[c] for c in ("watch_seconds", "completion_ratio", "rating")} == {"double"}
    assert (fact_types["is_valid"], fact_types["is_completed"]) == ("boolean", "boolean")
    assert (fact_types["emotion_score"], fact_types["primary_emotion"]) == ("double", "string")
    session_types = dict(sessions.dtypes)
    assert {session_types[c] for c in ("event_count", "movies_watched", "comment_count")} == {"int"}
    assert session_types["duration_seconds"] == session_types["watch_seconds"] == "double"


def test_event_date_and_hour_are_utc_whatever_the_session_zone(spark) -> None:
    event = stored_event(occurred_at="2026-11-21T04:30:00+02:00")  # 21:30 the day before in NY
    source = kafka_frame(spark, [as_bytes(event)])
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        [row] = transforms.build_facts(records.parse_events(source), RULES).collect()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert (row["event_date"].isoformat(), row["event_hour"]) == ("2026-11-21", 2)


TRICKY_TEXTS = [
    "not re\u0301ally good",  # a combining accent
    "keycap 1\u20e3 ² ½ Ⓐb under\u203ftie",  # enclosing mark, No numbers, circled letter, Pc
    "zero\u200cwidth non\u200djoiner, NOT bad!!!",
    "info\x1cseparator \x1f end :) <3",
    "Don't stop 👍🏽 🇫🇷 café CAFÉ naïve, but 10/10 😭",
    "",
]


def test_spark_reads_each_comment_as_python_does(spark) -> None:
    """The UDF runs jobs/sentiment.py on the executors: the same numbers, bit for bit."""
    frame = spark.createDataFrame([(text,) for text in [*TRICKY_TEXTS, None]], "text string")
    rows = frame.select("text", comment_reading(F.col("text"), RULES.sentiment).alias("r"))
    read = {row["text"]: row["r"] for row in rows.collect()}
    assert read.pop(None) is None
    for text, row in read.items():
        expected = read_comment(text, RULES.sentiment)
        assert (row["score"], row["label"], row["primary_emotion"]) == (
            expected.score, expected.label, expected.primary_emotion,
        )  # fmt: skip
