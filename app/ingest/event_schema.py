"""The event envelope and its per-type payloads as clients send them: the shapes pydantic-core
checks in one pass, and their JSON Schema for the API's documents."""

# No `from __future__ import annotations`: a TypedDict reads NotRequired when it is created.
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    with_config,
)
from typing_extensions import TypedDict  # typing's own lacks what pydantic needs before 3.12

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


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of an event as clients send it, payload variants included."""
    schema = TypeAdapter(EventEnvelope).json_schema()
    schema["properties"]["payload"] = {
        "description": "By event_type: watch, click or comment.",
        "oneOf": [TypeAdapter(payload).json_schema() for payload in PAYLOADS.values()],
    }
    return schema
