"""The event envelope and its per-type payloads: pure validation, no I/O.

A client sends events; each is validated on its own, so one bad event in a batch never costs
the good ones. A valid event becomes the stored form that goes to Kafka, with the server's
`received_at`, the request's user agent and an `event_id` (UUIDv7 when the client sent none).
"""

# No `from __future__ import annotations`: a TypedDict reads NotRequired when it is created.
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, NotRequired, Self

import orjson
from pydantic import (
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict  # typing's own lacks what pydantic needs before 3.12

from app.ingest.ids import uuid7, uuid7_stamp
from jobs.rules import Rules

EventType = Literal["watch", "click", "comment"]
SCHEMA_VERSION = 1
MAX_MEDIA_SECONDS = 86_400.0  # nothing we stream runs longer than a day
# Each event is validated into plain dicts in one pass of pydantic-core: no model instances
# to build and dump again, which cost as much as the checks themselves.
STRICT = ConfigDict(extra="forbid")


def text_or_read_time(value: object) -> object:
    """A client's time is text (JSON has no other); a time a door has already read and
    corrected (the Segment routes) comes as the datetime it is, not written and read again."""
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 date-time string")
    return value


def must_be_an_integer(value: object) -> object:
    if type(value) is not int:
        raise ValueError("must be an integer")
    return value


ShortText = Annotated[str, Field(strict=True, min_length=1, max_length=256)]
UrlText = Annotated[str, Field(strict=True, max_length=2048)]
Seconds = Annotated[float, Field(strict=True, ge=0, le=MAX_MEDIA_SECONDS, allow_inf_nan=False)]
Identifier = Annotated[str, Field(strict=True, min_length=1, max_length=128)]


@with_config(STRICT)
class EventContext(TypedDict, total=False):
    """Where the event happened; the user agent comes from the request, never the body."""

    page: UrlText | None
    referrer: UrlText | None
    locale: Annotated[str, Field(strict=True, max_length=35)] | None
    device: Annotated[str, Field(strict=True, max_length=64)] | None


@with_config(STRICT)
class WatchPayload(TypedDict):
    action: Literal["start", "progress", "pause", "complete"]
    position_seconds: Seconds
    duration_seconds: NotRequired[
        Annotated[float, Field(strict=True, gt=0, le=MAX_MEDIA_SECONDS, allow_inf_nan=False)] | None
    ]


@with_config(STRICT)
class ClickPayload(TypedDict):
    element: ShortText
    page: NotRequired[UrlText | None]
    target: NotRequired[UrlText | None]


@with_config(STRICT)
class CommentPayload(TypedDict):
    text: Annotated[str, Field(strict=True, min_length=1, max_length=5000)]
    rating: NotRequired[
        Annotated[float, Field(strict=True, ge=0, le=10, allow_inf_nan=False)] | None
    ]
    parent_event_id: NotRequired[uuid.UUID | None]


PAYLOADS: dict[str, type] = {
    "watch": WatchPayload,
    "click": ClickPayload,
    "comment": CommentPayload,
}


@with_config(STRICT)
class EnvelopeFields(TypedDict):
    """What every event holds besides its type and payload."""

    event_id: NotRequired[uuid.UUID | None]
    user_id: Identifier
    session_id: NotRequired[Identifier | None]
    movie_id: NotRequired[Annotated[int, Field(strict=True, gt=0, lt=2**63)] | None]
    occurred_at: Annotated[AwareDatetime, BeforeValidator(text_or_read_time)]
    schema_version: NotRequired[Annotated[Literal[1], BeforeValidator(must_be_an_integer)]]
    context: NotRequired[EventContext]


@with_config(STRICT)
class EventEnvelope(EnvelopeFields):
    """An event as a client sends it; its payload's shape depends on its type."""

    event_type: EventType
    payload: dict[str, Any]


@with_config(STRICT)
class WatchEvent(EnvelopeFields):
    event_type: Literal["watch"]
    payload: WatchPayload


@with_config(STRICT)
class ClickEvent(EnvelopeFields):
    event_type: Literal["click"]
    payload: ClickPayload


@with_config(STRICT)
class CommentEvent(EnvelopeFields):
    event_type: Literal["comment"]
    payload: CommentPayload


EVENT_VALIDATORS: dict[str, TypeAdapter[Any]] = {
    "watch": TypeAdapter(WatchEvent),
    "click": TypeAdapter(ClickEvent),
    "comment": TypeAdapter(CommentEvent),
}
MOVIE_EVENT_TYPES = ("watch", "comment")


@dataclass(frozen=True)
class EventLimits:
    max_future_skew: timedelta
    max_age: timedelta
    max_user_agent_length: int = 512
    reserved_users: frozenset[str] = frozenset()  # the canary's: no client may send as them

    @classmethod
    def from_rules(cls, rules: Rules) -> Self:
        """The rules' validity window: ingest refuses what the model would flag as invalid."""
        return cls(
            max_future_skew=timedelta(seconds=rules.max_future_skew_seconds),
            max_age=timedelta(days=rules.max_age_days),
            reserved_users=frozenset(rules.synthetic_users),
        )


@dataclass(frozen=True)
class Rejection:
    index: int
    field: str
    reason: str
    kind: str  # a short, bounded label for metrics


@dataclass(frozen=True)
class AcceptedEvent:
    index: int
    event: dict[str, Any]  # the stored form
    encoded: bytes  # its JSON, as Kafka gets it

    @property
    def event_id(self) -> str:
        return self.event["event_id"]

    @property
    def event_type(self) -> str:
        return self.event["event_type"]

    @property
    def user_id(self) -> str:
        return self.event["user_id"]


NUL_IN_JSON = b"\\u0000"
MAX_FIELD_CHARS, MAX_REASON_CHARS = 200, 300  # an answer never echoes a body back whole


class EventRejected(ValueError):
    def __init__(self, field: str, reason: str, kind: str) -> None:
        field, reason = bounded(field, MAX_FIELD_CHARS), bounded(reason, MAX_REASON_CHARS)
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.kind = field, reason, kind


def bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


@dataclass(frozen=True)
class Receipt:
    """What the events of one request share, worked out once for all of them."""

    received_at_text: str
    earliest: datetime  # an event that occurred before is too old
    latest: datetime  # or after, too far in the future
    max_age_days: int  # named when an event is too old
    user_agent: str | None
    id_stamp: str  # of the UUIDv7s given to events sent without an id: the receive time

    @classmethod
    def of(cls, received_at: datetime, user_agent: str | None, limits: EventLimits) -> Self:
        agent = (
            user_agent.replace("\x00", "")[: limits.max_user_agent_length] if user_agent else None
        )
        return cls(
            received_at.isoformat(),
            received_at - limits.max_age,
            received_at + limits.max_future_skew,
            limits.max_age.days,
            agent or None,
            uuid7_stamp(int(received_at.timestamp() * 1000)),
        )


def validate_event(
    raw: object,
    received_at: datetime,
    user_agent: str | None,
    limits: EventLimits,
) -> dict[str, Any]:
    """The stored form of one client event; raises EventRejected naming the field and reason."""
    return validate_and_encode(raw, Receipt.of(received_at, user_agent, limits))[0]


def validate_and_encode(
    raw: object, receipt: Receipt, server_context: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], bytes]:
    """The stored form of one client event and its JSON, serialized once for Kafka;
    `server_context` is what a door sets in the context besides the request's user agent."""
    if not isinstance(raw, dict):
        raise EventRejected("", "an event must be a JSON object", "not_an_object")
    if "received_at" in raw:  # the server's own: whatever the client says is dropped
        raw = {key: value for key, value in raw.items() if key != "received_at"}
    event = validated(raw)
    event_type, movie_id = event["event_type"], event.get("movie_id")
    if movie_id is None and event_type in MOVIE_EVENT_TYPES:
        raise EventRejected("movie_id", f"required for {event_type} events", "missing")
    try:
        occurred_at = event["occurred_at"].astimezone(UTC)
    except OverflowError:
        raise EventRejected("occurred_at", "is out of range", "stale_timestamp") from None
    if occurred_at > receipt.latest:
        raise EventRejected("occurred_at", "is too far in the future", "future_timestamp")
    if occurred_at < receipt.earliest:
        raise EventRejected(
            "occurred_at", f"is older than {receipt.max_age_days} days", "stale_timestamp"
        )
    context = without_nones(event.get("context", {}))
    if receipt.user_agent:
        context["user_agent"] = receipt.user_agent
    if server_context:
        context = {**context, **server_context}
    payload = without_nones(event["payload"])
    if "parent_event_id" in payload:
        payload["parent_event_id"] = str(payload["parent_event_id"])
    event_id = event.get("event_id")
    stored = {
        "event_id": uuid7(receipt.id_stamp) if event_id is None else str(event_id),
        "event_type": event_type,
        "user_id": event["user_id"],
        "session_id": event.get("session_id"),
        "movie_id": movie_id,
        "occurred_at": occurred_at.isoformat(),
        "received_at": receipt.received_at_text,
        "schema_version": event.get("schema_version", SCHEMA_VERSION),
        "context": context,
        "payload": payload,
    }
    encoded = orjson.dumps(stored)
    # JSON writes a NUL as \u0000, so an event without that text has none. Text that only looks
    # like it (an escaped backslash before "u0000") is told apart by the walk, which is bounded:
    # the stored form is small, whatever the body held.
    if NUL_IN_JSON in encoded:
        reject_nul_characters(stored, "")
    return stored, encoded


def without_nones(values: dict[str, Any]) -> dict[str, Any]:
    """An optional field sent as null is stored as absent, as if it had not been sent. The
    validator's dict is the event's own, so most events (no nulls) keep it as it is."""
    if None not in values.values():
        return values
    return {key: value for key, value in values.items() if value is not None}


def reject_nul_characters(value: object, path: str) -> None:
    """PostgreSQL text refuses NUL, so no string of ours may carry one."""
    pending = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise EventRejected(where or "(event)", "contains a NUL character", "nul_character")
        elif isinstance(item, dict):
            for key, child in item.items():
                pending.append((key, where))
                pending.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{n}]") for n, child in enumerate(item))


def validated(raw: dict[str, Any]) -> dict[str, Any]:
    """The event checked against its type's definition; EventRejected names the first fault."""
    event_type = raw.get("event_type")
    validator = EVENT_VALIDATORS.get(event_type) if isinstance(event_type, str) else None
    if validator is None:
        if "event_type" not in raw:
            raise EventRejected("event_type", "Field required", "missing")
        options = " or ".join(", ".join(f"'{name}'" for name in EVENT_VALIDATORS).rsplit(", ", 1))
        raise EventRejected("event_type", f"Input should be {options}", "literal_error")
    try:
        return validator.validate_python(raw)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "(event)"
        raise EventRejected(field, first["msg"], first["type"]) from None


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of an event as clients send it, payload variants included."""
    schema = TypeAdapter(EventEnvelope).json_schema()
    schema["properties"]["payload"] = {
        "description": "By event_type: watch, click or comment.",
        "oneOf": [TypeAdapter(payload).json_schema() for payload in PAYLOADS.values()],
    }
    return schema
