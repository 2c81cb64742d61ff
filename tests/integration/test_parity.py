"""Parity: the same stored events through the pandas reference and through Spark, row for row.

The event set is built in code around the rules' edges: sessions split by gaps and by maximum
length, late and duplicated events, every invalid reason, negations, emoji and accents, rating
bucket bounds, watch events without a duration or past it. Spark sees it as a Kafka source.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from app.config import Settings
from app.model.spark_stream import spark_config
from jobs.model_columns import FACT_COLUMNS, SESSION_COLUMNS
from jobs.pandas import transforms as pandas_engine
from jobs.pandas.events_frame import events_frame
from jobs.rules import load_rules
from jobs.spark import records as spark_records
from jobs.spark import transforms as spark_engine
from jobs.spark.session import build_spark_session

RULES = load_rules()
START = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
TOPICS = {"watch": "user_watch_log", "click": "user_click_log", "comment": "user_comment_log"}
INVALID_REASONS = (
    "unknown_event_type", "missing_movie", "future_timestamp",
    "stale_timestamp", "rating_out_of_range", "position_beyond_duration",
)  # fmt: skip
KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, "
    "timestamp timestamp, timestampType int"
)
COMMENTS = [
    ("Not good at all", 2.0), ("never boring, LOVED it 😍", 10.0),
    ("I didn't think it was bad", 4.0),
    ("Loved it ❤️❤️", 7.0), ("Génial, très émouvant… not bad", 6.99), ("C'était nul 👎", 0.0),
    ("not re\u0301ally good", 3.99), ("not cafe\u0301 a good", None), ("no 1️⃣ ² great", 7.5),
    ("isn\u2019t good", 9.0), ("isn't good", 5.0), ("hardly a fun film, ΟΔΟΣ great", 4.0),
    ("🔥🔥 brilliant, BEST 🍿", 8.5), ("boring 😴 slow mess", 1.0), ("nothing wonderful", None),
    ("meh", 6.0), ("it was not the worst, it was not the best", 5.5), ("🤮", 0.5),
]  # fmt: skip


class EventSet:
    """Stored events in arrival order, with deterministic ids and jitter."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = []

    def add(self, event_type: str, user: str, at: datetime, **fields: Any) -> dict[str, Any]:
        received = fields.pop("received", at + timedelta(milliseconds=self.rng.randint(20, 3000)))
        zone = fields.pop("tz", timezone(timedelta(hours=self.rng.choice([0, 0, 2, -5]))))
        event = {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "event_type": event_type, "user_id": user, "session_id": f"client-{user}",
            "movie_id": fields.pop("movie", 550 + self.rng.randint(0, 3)),
            "occurred_at": at.astimezone(zone).isoformat(),
            "received_at": received.isoformat(), "schema_version": 1,
            "context": {"page": f"/movie/{user}", "locale": "en-GB", "device": "tv",
                        "user_agent": "parity/1.0"},
            "payload": fields.pop("payload", None) or self.payload(event_type),
        }  # fmt: skip
        assert not fields, f"unknown fields {fields}"
        self.events.append(event)
        return event

    def payload(self, event_type: str) -> dict[str, Any]:
        kind = event_type.strip().lower()
        if kind in ("watch", "view", "play"):
            position = round(self.rng.uniform(0, 7300), 3)
            return {"action": self.rng.choice(["progress", "pause", "complete"]),
                    "position_seconds": position, "duration_seconds": 7200.0}  # fmt: skip
        if kind in ("comment", "review"):
            text, rating = self.rng.choice(COMMENTS)
            return {"text": text} | ({} if rating is None else {"rating": rating})
        return {"element": "poster", "page": "/home", "target": "/movie/551"}

    def duplicate(self, event: dict[str, Any], later_by: timedelta, **payload: Any) -> None:
        """A retried copy: the same event_id, received later (maybe different bytes)."""
        received = datetime.fromisoformat(event["received_at"]) + later_by
        copy = {**event, "received_at": received.isoformat()}
        copy["payload"] = {**event["payload"], **payload}
        self.events.append(copy)


def parity_events() -> list[dict[str, Any]]:
    events = EventSet(seed=20261120)
    browsing_sessions(events)
    marathon_and_gaps(events)
    watch_edges(events)
    invalid_events(events)
    comments_and_aliases(events)
    arrival = START + timedelta(hours=5)  # after other users' later events: late arrivals
    late = [events.add("watch", "u-late", START + timedelta(minutes=m), received=arrival)
            for m in (0, 10, 50)]  # fmt: skip
    for event, seconds in zip(events.events[3:60:7], range(1, 30, 3), strict=False):
        events.duplicate(event, timedelta(seconds=seconds), position_seconds=1.0)
    events.duplicate(late[0], timedelta(0))  # a byte-identical redelivery
    return sorted(events.events, key=lambda e: datetime.fromisoformat(e["received_at"]))


def browsing_sessions(events: EventSet) -> None:
    for user in (f"u-{n}" for n in range(7)):
        at = START + timedelta(seconds=events.rng.randint(0, 600))
        for _ in range(events.rng.randint(12, 20)):
            events.add(events.rng.choice(["watch", "watch", "click", "comment"]), user, at)
            long_break = events.rng.random() < 0.15
            at += timedelta(
                minutes=events.rng.uniform(31, 90) if long_break else events.rng.uniform(0.1, 20)
            )


def marathon_and_gaps(events: EventSet) -> None:
    run_start = START + timedelta(hours=1)
    for minutes in [*range(0, 9 * 60, 25), 240, 480]:  # 240 and 480 start the cut pieces exactly
        events.add("watch", "u-marathon", run_start + timedelta(minutes=minutes), movie=600)
    at = START + timedelta(hours=2)
    for gap in (1800, 1800.000001, 1799.999999, 1800, 3600):
        events.add("click", "u-gaps", at)
        at += timedelta(seconds=gap)
    events.add("click", "u-gaps", at)
    events.add("click", "u-gaps", at)  # the same instant: event_id breaks the tie


def watch_edges(events: EventSet) -> None:
    at = START + timedelta(hours=3)
    payloads = [
        {"action": "start", "position_seconds": 0.0, "duration_seconds": 100.0},
        {"action": "progress", "position_seconds": 90.0, "duration_seconds": 100.0},
        {"action": "progress", "position_seconds": 89.9999, "duration_seconds": 100.0},
        {"action": "progress", "position_seconds": 105.0, "duration_seconds": 100.0},
        {"action": "complete", "position_seconds": 10.0005, "duration_seconds": 100.0},
        {"action": "pause", "position_seconds": 1234.5678},
        {"action": "start", "position_seconds": 30.0},
        {"action": "progress", "position_seconds": 0.1, "duration_seconds": 0.3},
        {"action": "progress", "position_seconds": 4000.25, "duration_seconds": 7200.0},
    ]
    for n, payload in enumerate(payloads):
        at += timedelta(seconds=40)
        events.add("watch", "u-watch", at, payload=payload, movie=700 + n % 3)


def invalid_events(events: EventSet) -> None:
    at, received = START + timedelta(hours=4), START + timedelta(hours=4)
    watch = {"action": "progress", "position_seconds": 106.0, "duration_seconds": 100.0}
    comment = {"text": "great", "rating": 10.5}
    cases = [
        ("rewind", {"at": received + timedelta(hours=1), "payload": {"rating": 11.0}}),
        ("watch", {"movie": None}),
        ("comment", {"movie": None, "at": received + timedelta(seconds=301)}),
        ("click", {"at": received + timedelta(seconds=301), "payload": {"rating": -0.5}}),
        ("click", {"at": received + timedelta(seconds=300)}),
        ("click", {"at": received - timedelta(days=7, microseconds=1),
                   "payload": {"rating": 11.0}}),
        ("click", {"at": received - timedelta(days=7)}), ("comment", {"payload": comment}),
        ("watch", {"payload": watch | {"rating": 10.01}}), ("watch", {"payload": watch}),
        ("watch", {"payload": watch | {"position_seconds": 105.0}}),
    ]  # fmt: skip
    for event_type, fields in cases:
        events.add(event_type, "u-invalid", fields.pop("at", at), received=received, **fields)
        at += timedelta(seconds=10)


def comments_and_aliases(events: EventSet) -> None:
    at = START + timedelta(hours=5)
    for n, (text, rating) in enumerate(COMMENTS):
        payload = {"text": text} | ({} if rating is None else {"rating": rating})
        events.add("comment", f"u-critic-{n % 2}", at + timedelta(minutes=n), payload=payload)
    for n, alias in enumerate([" VIEW ", "Play", "TAP", "\tReview\n", "Watch"]):
        events.add(alias, "u-alias", at + timedelta(minutes=n))
    midnight = datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)  # written as the 21st
    events.add("click", "u-alias", midnight, received=midnight, tz=timezone(timedelta(hours=2)))


def kafka_rows(stored: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    offsets: dict[tuple[str, int], int] = {}
    rows = []
    for event in stored:
        topic = TOPICS.get(event["event_type"], "user_click_log")
        partition = sum(event["user_id"].encode()) % 2
        offset = offsets[topic, partition] = offsets.get((topic, partition), -1) + 1
        value = json.dumps(event, ensure_ascii=False).encode()
        rows.append((event["user_id"].encode(), value, topic, partition, offset, START, 0))
    malformed = [b"not json", b'{"event_id": "5"}', b'{"occurred_at": "2026-11-20"}', None]
    return rows + [(None, bad, "user_click_log", 9, n, START, 0) for n, bad in enumerate(malformed)]


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = build_spark_session("parity-test", spark_config(Settings()))
    yield session
    session.stop()


@pytest.fixture(scope="module")
def stored() -> list[dict[str, Any]]:
    return parity_events()


@pytest.fixture(scope="module")
def pandas_rows(stored: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    facts = pandas_engine.build_facts(events_frame(stored), RULES)
    return facts, pandas_engine.build_sessions(facts, RULES)


def first_copies(incoming: DataFrame) -> DataFrame:
    """What the merge keeps of the stream's incoming facts (tested on PostgreSQL in
    test_spark_merge.py): of each event, the copy received first, then the lowest position."""
    first = Window.partitionBy("event_id").orderBy(
        "received_at", "kafka_topic", "kafka_partition", "kafka_offset"
    )
    ranked = incoming.withColumn("copy_rank", F.row_number().over(first))
    return ranked.filter(F.col("copy_rank") == 1).select(*FACT_COLUMNS)


@pytest.fixture(scope="module")
def spark_rows(spark: SparkSession, stored: list[dict[str, Any]]) -> tuple[DataFrame, DataFrame]:
    """As the stream builds them: facts per record, then the first copy of each event."""
    source = spark.createDataFrame(kafka_rows(stored), KAFKA_SCHEMA)
    records = spark_engine.fact_records(spark_records.parse_records(source), RULES)
    facts = first_copies(spark_engine.incoming_facts(records)).cache()
    return facts, spark_engine.build_sessions(facts, RULES)


def test_facts_match(pandas_rows, spark_rows) -> None:
    assert_same_rows("facts", pandas_rows[0], spark_rows[0], "event_id", FACT_COLUMNS)


def test_sessions_match(pandas_rows, spark_rows) -> None:
    assert_same_rows("sessions", pandas_rows[1], spark_rows[1], "session_id", SESSION_COLUMNS)


def test_the_event_set_reaches_every_edge(stored, pandas_rows) -> None:
    facts, sessions = pandas_rows
    assert 180 <= len(stored) <= 260
    assert len(facts) == len({e["event_id"] for e in stored}) < len(stored)  # duplicates went
    assert set(facts["invalid_reason"].dropna()) == set(INVALID_REASONS)
    assert set(facts["rating_bucket"].dropna()) == {"low", "medium", "high"}
    assert set(facts["emotion"].dropna()) == {"positive", "negative", "neutral"}
    per_user = sessions.groupby("user_id").size()
    assert per_user["u-marathon"] == 3 and per_user["u-gaps"] == 3
    assert facts["watch_seconds"].isna().sum() > 0 and facts["completion_ratio"].isna().sum() > 0


def test_malformed_records_are_flagged_not_fatal(spark: SparkSession, stored) -> None:
    source = spark.createDataFrame(kafka_rows(stored), KAFKA_SCHEMA)
    records = spark_records.parse_records(source)
    assert records.filter("parse_error IS NOT NULL").count() == 4
    assert spark_records.parse_events(source).count() == len(stored)


def assert_same_rows(
    name: str, pandas_frame: pd.DataFrame, spark_frame: DataFrame, key: str, columns: tuple
) -> None:
    assert tuple(pandas_frame.columns) == columns
    assert tuple(spark_frame.columns) == columns
    expected = {row[key]: row for row in map(normalised_row, pandas_frame.to_dict("records"))}
    actual = {row[key]: row for row in (normalised_row(r.asDict()) for r in spark_frame.collect())}
    problems = [f"only in pandas: {key}={k}" for k in sorted(expected.keys() - actual.keys())]
    problems += [f"only in Spark: {key}={k}" for k in sorted(actual.keys() - expected.keys())]
    for k in sorted(expected.keys() & actual.keys()):
        if diff := row_diff(expected[k], actual[k], columns):
            problems.append(f"{key}={k} (user {expected[k]['user_id']}):\n{diff}")
    if problems:
        shown = "\n".join(problems[:5])
        pytest.fail(f"{name}: {len(problems)} rows differ; the first:\n{shown}", pytrace=False)


def row_diff(expected: dict[str, Any], actual: dict[str, Any], columns: tuple) -> str:
    return "\n".join(
        f"    {column}: pandas={expected[column]!r}  spark={actual[column]!r}"
        for column in columns
        if expected[column] != actual[column]
    )


def normalised_row(row: dict[str, Any]) -> dict[str, Any]:
    return {column: normalised(value) for column, value in row.items()}


def normalised(value: Any) -> Any:
    """Both engines' values as plain Python: None, aware UTC datetimes, dates, ints, floats."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return normalised(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):  # pandas: aware UTC; Spark: naive local time, read as such
        return pd.Timestamp(value).to_pydatetime().astimezone(UTC)
    return value  # str, bool, int, float, date
