"""The stored form of an event: what ingest publishes to Kafka and every reader takes in.

One definition of its fields and their types. The staging row, the Spark schema, the pandas
input frame and the consumers' decoding are derived from it; the ingest models are checked
against it by a unit test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["uuid", "text", "bigint", "integer", "double", "timestamp", "object"]


@dataclass(frozen=True)
class StoredField:
    name: str
    kind: FieldKind
    required: bool = False
    default: int | None = None  # what a reader assumes when an older producer left it out


EVENT_FIELDS: tuple[StoredField, ...] = (
    StoredField("event_id", "uuid", required=True),
    StoredField("event_type", "text", required=True),
    StoredField("user_id", "text", required=True),
    StoredField("session_id", "text"),
    StoredField("movie_id", "bigint"),
    StoredField("occurred_at", "timestamp", required=True),
    StoredField("received_at", "timestamp", required=True),
    StoredField("schema_version", "integer", default=1),
    StoredField("context", "object"),
    StoredField("payload", "object"),
)
CONTEXT_FIELDS: tuple[StoredField, ...] = (
    StoredField("page", "text"),
    StoredField("referrer", "text"),
    StoredField("locale", "text"),
    StoredField("device", "text"),
    StoredField("user_agent", "text"),  # from the request, never the body
    # Set by the Segment door: the write key's source, and the client's own clock reading.
    StoredField("source", "text"),
    StoredField("client_timestamp", "text"),
)
# Each event type's payload; a reader that flattens payloads takes the union.
PAYLOAD_FIELDS: dict[str, tuple[StoredField, ...]] = {
    "watch": (
        StoredField("action", "text", required=True),
        StoredField("position_seconds", "double", required=True),
        StoredField("duration_seconds", "double"),
    ),
    "click": (
        StoredField("element", "text", required=True),
        StoredField("page", "text"),
        StoredField("target", "text"),
    ),
    "comment": (
        StoredField("text", "text", required=True),
        StoredField("rating", "double"),
        StoredField("parent_event_id", "uuid"),
    ),
}
EVENT_TYPES: tuple[str, ...] = tuple(PAYLOAD_FIELDS)

EVENT_FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in EVENT_FIELDS)
REQUIRED_EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in EVENT_FIELDS if f.required)


def payload_union() -> tuple[StoredField, ...]:
    """Every payload field of every type once, in declaration order (first kind wins)."""
    seen: dict[str, StoredField] = {}
    for fields in PAYLOAD_FIELDS.values():
        for field in fields:
            seen.setdefault(field.name, field)
    return tuple(seen.values())
