"""What a consumer reads: the stored event decoded from a Kafka record, or why it can't be."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from jobs.stored_event import EVENT_TYPES, REQUIRED_EVENT_FIELDS


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


def decode_event(source: SourceRecord) -> DecodedEvent:
    if source.value is None:
        raise UndecodableRecord("empty value")
    try:
        event = orjson.loads(source.value)
    except orjson.JSONDecodeError as error:
        raise UndecodableRecord(f"not JSON: {error}") from None
    if not isinstance(event, dict):
        raise UndecodableRecord("not a JSON object")
    for field in REQUIRED_EVENT_FIELDS:  # each of them travels as text
        if not isinstance(event.get(field), str):
            raise UndecodableRecord(f"{field} is missing or not a string")
    try:
        event["event_id"] = str(uuid.UUID(event["event_id"]))
        datetime.fromisoformat(event["occurred_at"])
        datetime.fromisoformat(event["received_at"])
    except ValueError as error:
        raise UndecodableRecord(f"malformed field: {error}") from None
    if event["event_type"] not in EVENT_TYPES:
        raise UndecodableRecord(f"unknown event_type {event['event_type']!r}")
    return DecodedEvent(source, event)
