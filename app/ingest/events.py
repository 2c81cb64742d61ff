"""Events validated into their stored form: pure, no I/O (their shapes: `event_schema`).

A client sends events; each is validated on its own, so one bad event in a batch never costs
the good ones. A valid event becomes the stored form that goes to Kafka, with the server's
`received_at`, the request's user agent and an `event_id` (UUIDv7 when the client sent none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import orjson
from pydantic import ValidationError

from app.ingest.event_schema import EVENT_VALIDATORS, MOVIE_EVENT_TYPES, SCHEMA_VERSION
from app.ingest.ids import uuid7, uuid7_stamp
from jobs.rules import Rules


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
