"""The event envelope and its per-type payloads: pure validation, no I/O.

A client sends events; each is validated on its own, so one bad event in a batch never costs
the good ones. A valid event becomes the stored form that goes to Kafka, with the server's
`received_at`, the request's user agent and an `event_id` (UUIDv7 when the client sent none).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.ingest.ids import uuid7
from jobs.rules import Rules

M = TypeVar("M", bound=BaseModel)
EventType = Literal["watch", "click", "comment"]
SCHEMA_VERSION = 1
MAX_MEDIA_SECONDS = 86_400.0  # nothing we stream runs longer than a day

ShortText = Annotated[str, Field(strict=True, min_length=1, max_length=256)]
UrlText = Annotated[str, Field(strict=True, max_length=2048)]
Seconds = Annotated[float, Field(strict=True, ge=0, le=MAX_MEDIA_SECONDS, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventContext(_Strict):
    """Where the event happened; the user agent comes from the request, never the body."""

    page: UrlText | None = None
    referrer: UrlText | None = None
    locale: Annotated[str, Field(strict=True, max_length=35)] | None = None
    device: Annotated[str, Field(strict=True, max_length=64)] | None = None


class WatchPayload(_Strict):
    action: Literal["start", "progress", "pause", "complete"]
    position_seconds: Seconds
    duration_seconds: (
        Annotated[float, Field(strict=True, gt=0, le=MAX_MEDIA_SECONDS, allow_inf_nan=False)] | None
    ) = None


class ClickPayload(_Strict):
    element: ShortText
    page: UrlText | None = None
    target: UrlText | None = None


class CommentPayload(_Strict):
    text: Annotated[str, Field(strict=True, min_length=1, max_length=5000)]
    rating: Annotated[float, Field(strict=True, ge=0, le=10, allow_inf_nan=False)] | None = None
    parent_event_id: uuid.UUID | None = None


PAYLOAD_MODELS: dict[str, type[_Strict]] = {
    "watch": WatchPayload,
    "click": ClickPayload,
    "comment": CommentPayload,
}


class EventEnvelope(_Strict):
    event_id: uuid.UUID | None = None
    event_type: EventType
    user_id: Annotated[str, Field(strict=True, min_length=1, max_length=128)]
    session_id: Annotated[str, Field(strict=True, min_length=1, max_length=128)] | None = None
    movie_id: Annotated[int, Field(strict=True, gt=0, lt=2**63)] | None = None
    occurred_at: AwareDatetime
    schema_version: Literal[1] = SCHEMA_VERSION
    context: EventContext = EventContext()
    payload: dict[str, Any]

    @field_validator("occurred_at", mode="before")
    @classmethod
    def occurred_at_is_rfc3339_text(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 date-time string")
        return value

    @field_validator("schema_version", mode="before")
    @classmethod
    def schema_version_is_an_integer(cls, value: object) -> object:
        if type(value) is not int:
            raise ValueError("must be an integer")
        return value


@dataclass(frozen=True)
class EventLimits:
    max_future_skew: timedelta
    max_age: timedelta
    max_user_agent_length: int = 512

    @classmethod
    def from_rules(cls, rules: Rules) -> EventLimits:
        """The rules' validity window: ingest refuses what the model would flag as invalid."""
        return cls(
            max_future_skew=timedelta(seconds=rules.max_future_skew_seconds),
            max_age=timedelta(days=rules.max_age_days),
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


def validate_event(
    raw: object,
    received_at: datetime,
    user_agent: str | None,
    limits: EventLimits,
) -> dict[str, Any]:
    """The stored form of one client event; raises EventRejected naming the field and reason."""
    return validate_and_encode(raw, received_at, user_agent, limits)[0]


def validate_and_encode(
    raw: object,
    received_at: datetime,
    user_agent: str | None,
    limits: EventLimits,
) -> tuple[dict[str, Any], bytes]:
    """The stored form of one client event and its JSON, serialized once for Kafka."""
    if not isinstance(raw, dict):
        raise EventRejected("", "an event must be a JSON object", "not_an_object")
    raw = {key: value for key, value in raw.items() if key != "received_at"}
    envelope = _validated(EventEnvelope, raw, "")
    payload = _validated(PAYLOAD_MODELS[envelope.event_type], envelope.payload, "payload")
    if envelope.event_type in ("watch", "comment") and envelope.movie_id is None:
        raise EventRejected("movie_id", f"required for {envelope.event_type} events", "missing")
    try:
        occurred_at = envelope.occurred_at.astimezone(UTC)
    except OverflowError:
        raise EventRejected("occurred_at", "is out of range", "stale_timestamp") from None
    if occurred_at > received_at + limits.max_future_skew:
        raise EventRejected("occurred_at", "is too far in the future", "future_timestamp")
    if occurred_at < received_at - limits.max_age:
        raise EventRejected(
            "occurred_at", f"is older than {limits.max_age.days} days", "stale_timestamp"
        )
    context = envelope.context.model_dump(mode="json", exclude_none=True)
    if user_agent:
        context["user_agent"] = user_agent.replace("\x00", "")[: limits.max_user_agent_length]
    stored = {
        "event_id": str(envelope.event_id or uuid7()),
        "event_type": envelope.event_type,
        "user_id": envelope.user_id,
        "session_id": envelope.session_id,
        "movie_id": envelope.movie_id,
        "occurred_at": occurred_at.isoformat(),
        "received_at": received_at.isoformat(),
        "schema_version": envelope.schema_version,
        "context": context,
        "payload": payload.model_dump(mode="json", exclude_none=True),
    }
    encoded = orjson.dumps(stored)
    # JSON writes a NUL as \u0000, so an event without that text has none. Text that only looks
    # like it (an escaped backslash before "u0000") is told apart by the walk, which is bounded:
    # the stored form is small, whatever the body held.
    if NUL_IN_JSON in encoded:
        reject_nul_characters(stored, "")
    return stored, encoded


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


def _validated(model: type[M], data: object, prefix: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        location = ".".join(str(part) for part in first["loc"])
        field = ".".join(part for part in (prefix, location) if part) or prefix or "(event)"
        raise EventRejected(field, first["msg"], first["type"]) from None


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of an event as clients send it, payload variants included."""
    schema = EventEnvelope.model_json_schema()
    schema["properties"]["payload"] = {
        "description": "By event_type: watch, click or comment.",
        "oneOf": [model.model_json_schema() for model in PAYLOAD_MODELS.values()],
    }
    return schema
