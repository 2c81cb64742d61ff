"""Poison records the run writes straight to the user topics, past the API's validation: each
must reach the dead-letter topic, from every group that reads it, and nothing else may."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer

from app.ingest.events import EventLimits, validate_event
from app.topics import USER_TOPICS
from jobs.rules import load_rules

KEY_PREFIX = "chaos-poison-"


def poison_record(run_id: str, number: int) -> tuple[str, bytes, bytes]:
    """Topic, key and value of the run's poison record `number`: by turns not JSON, not an
    object, and an event no sink can map."""
    key = f"{KEY_PREFIX}{run_id}-{number}".encode()
    values = (b"\xff not json", orjson.dumps([1, 2, 3]), orjson.dumps(unmappable_comment()))
    topic = (USER_TOPICS["click"], USER_TOPICS["watch"], USER_TOPICS["comment"])[number % 3]
    return topic, key, values[number % 3]


def unmappable_comment() -> dict:
    """A comment in the stored form, but for a rating no store can hold."""
    now = datetime.now(UTC)
    raw = {
        "event_type": "comment", "user_id": "chaos-poison", "movie_id": 603,
        "session_id": "chaos-poison", "occurred_at": now.isoformat(), "context": {},
        "payload": {"text": "poison", "rating": 7},
    }  # fmt: skip
    stored = validate_event(raw, now, "chaos", EventLimits.from_rules(load_rules()))
    stored["payload"]["rating"] = "high"
    return stored


async def send_poison(bootstrap_servers: str, run_id: str, number: int) -> bytes | None:
    """The key of the record Kafka acknowledged, or None if Kafka could not take it now."""
    topic, key, value = poison_record(run_id, number)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", request_timeout_ms=5_000
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, value, key=key)
    except Exception:  # a stack still recovering: this record is not counted
        return None
    finally:
        await producer.stop()
    return key
