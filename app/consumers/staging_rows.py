"""Stored events as staging rows: pure mapping, no I/O.

`stg_user_logs` holds every field of the stored event, typed, plus where Kafka kept it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from app.consumers.records import DecodedEvent
from jobs.stored_event import EVENT_FIELD_NAMES, EVENT_FIELDS, StoredField

USER_LOG_COLUMNS = (*EVENT_FIELD_NAMES, "kafka_topic", "kafka_partition", "kafka_offset")
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
    values = (column_value(field, event.get(field.name)) for field in EVENT_FIELDS)
    return (*values, source.topic, source.partition, source.offset)


def column_value(field: StoredField, value: Any) -> Any:
    if field.kind == "uuid":
        return uuid.UUID(value)
    if field.kind == "timestamp":
        return datetime.fromisoformat(value)
    if field.kind == "object":
        return orjson.dumps(value or {}).decode()  # jsonb takes text through COPY
    return field.default if value is None else value


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
