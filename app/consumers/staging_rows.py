"""Stored events as staging rows: pure mapping, no I/O."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import orjson

from app.consumers.records import DecodedEvent

USER_LOG_COLUMNS = (
    "event_id",
    "event_type",
    "user_id",
    "session_id",
    "movie_id",
    "occurred_at",
    "received_at",
    "schema_version",
    "context",
    "payload",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
)
COMMENT_COLUMNS = (
    "event_id",
    "user_id",
    "session_id",
    "movie_id",
    "comment_text",
    "rating",
    "parent_event_id",
    "occurred_at",
    "received_at",
)


def user_log_row(decoded: DecodedEvent) -> tuple:
    event, source = decoded.event, decoded.source
    return (
        uuid.UUID(event["event_id"]),
        event["event_type"],
        event["user_id"],
        event.get("session_id"),
        event.get("movie_id"),
        datetime.fromisoformat(event["occurred_at"]),
        datetime.fromisoformat(event["received_at"]),
        event.get("schema_version", 1),
        orjson.dumps(event.get("context") or {}).decode(),
        orjson.dumps(event.get("payload") or {}).decode(),
        source.topic,
        source.partition,
        source.offset,
    )


def comment_row(decoded: DecodedEvent) -> tuple | None:
    event = decoded.event
    if event["event_type"] != "comment":
        return None
    payload = event.get("payload") or {}
    rating = payload.get("rating")
    parent = payload.get("parent_event_id")
    return (
        uuid.UUID(event["event_id"]),
        event["user_id"],
        event.get("session_id"),
        event.get("movie_id"),
        payload.get("text"),
        None if rating is None else Decimal(str(rating)),
        None if parent is None else uuid.UUID(parent),
        datetime.fromisoformat(event["occurred_at"]),
        datetime.fromisoformat(event["received_at"]),
    )
