"""What a consumer reads: the stored event decoded from a Kafka record, or why it can't be."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from app.consumers.field_checks import FieldError, check_field, check_storable
from app.topics import KEPT_RAW_TYPE, SEGMENT_TOPIC
from jobs.stored_event import (
    CONTEXT_FIELDS,
    EVENT_FIELDS,
    EVENT_TYPES,
    PAYLOAD_FIELDS,
    StoredField,
)


class UndecodableRecord(ValueError):
    """The record is not a stored event; it belongs in the dead-letter topic."""


@dataclass(frozen=True)
class SourceRecord:
    """A Kafka record's coordinates and bytes, as a sink needs them."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None  # Kafka's


class Decoded(Protocol):
    """Anything a decoder makes of a record; it keeps the record for dead-lettering."""

    @property
    def source(self) -> SourceRecord: ...


@dataclass(frozen=True)
class DecodedEvent:
    source: SourceRecord
    event: dict[str, Any]

    @property
    def event_id(self) -> str:
        return self.event["event_id"]

    @property
    def user_id(self) -> str:
        return self.event["user_id"]


def decode_event(source: SourceRecord) -> DecodedEvent:
    """The stored event in a record, checked field by field against its definition."""
    if source.value is None:
        raise UndecodableRecord("empty value")
    try:
        event = orjson.loads(source.value)
    except orjson.JSONDecodeError as error:
        raise UndecodableRecord(f"not JSON: {error}") from None
    if not isinstance(event, dict):
        raise UndecodableRecord("not a JSON object")
    if event.get("event_type") not in EVENT_TYPES:
        raise UndecodableRecord(f"unknown event_type {str(event.get('event_type'))[:64]!r}")
    try:
        for field in EVENT_FIELDS:
            check_field(field, event.get(field.name), field.name)
        # Inside context and payload a missing field passes: ingest required what it requires
        # there, and an older producer may have left the rest out. Only values are checked.
        for parent, fields in (
            ("context", CONTEXT_FIELDS),
            ("payload", PAYLOAD_FIELDS[event["event_type"]]),
        ):
            part = event.get(parent) or {}
            for field in fields:
                if (value := part.get(field.name)) is not None:
                    check_field(field, value, f"{parent}.{field.name}")
        check_storable(event)
    except FieldError as error:
        raise UndecodableRecord(str(error)) from None
    event["event_id"] = str(uuid.UUID(event["event_id"]))
    return DecodedEvent(source, event)


# A Segment message kept raw (app/segment/messages.py): what the backup and the audit need.
KEPT_RAW_FIELDS: tuple[StoredField, ...] = (
    StoredField("event_id", "uuid", required=True),
    StoredField("user_id", "text", required=True),
    StoredField("received_at", "timestamp", required=True),
    StoredField("message", "text", required=True),
)


def decode_kept_raw(source: SourceRecord) -> DecodedEvent:
    """A Segment message the model takes no event from, kept for the backup alone."""
    try:
        message = orjson.loads(source.value or b"")
    except orjson.JSONDecodeError as error:
        raise UndecodableRecord(f"not JSON: {error}") from None
    if not isinstance(message, dict) or message.get("event_type") != KEPT_RAW_TYPE:
        raise UndecodableRecord(f"not a message kept raw (event_type {KEPT_RAW_TYPE!r})")
    try:
        for field in KEPT_RAW_FIELDS:
            check_field(field, message.get(field.name), field.name)
    except FieldError as error:
        raise UndecodableRecord(str(error)) from None
    message["event_id"] = str(uuid.UUID(message["event_id"]))
    return DecodedEvent(source, message)


def decode_backed_up(source: SourceRecord) -> DecodedEvent:
    """What the backup reads: events, and Segment messages kept raw."""
    return decode_kept_raw(source) if source.topic == SEGMENT_TOPIC else decode_event(source)
