"""Segment messages made into what the pipeline publishes: pure, no I/O.

Each message of a request is taken on its own, so one bad message never costs the others:
- a `track` the rules map, and that passes the events' own checks, becomes an event;
- any other well-formed message (a `page`, an `identify`, an unmapped `track`, one the events'
  checks refuse) is kept raw: backed up, counted, never modelled;
- a malformed one (no `type`, no user, over 32 KB, a timestamp that is no time) is refused.

The message id becomes the event id, so a retried batch lands once; the client's clock is
corrected by its own reading of `sentAt`, as Segment does.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.ingest.events import AcceptedEvent, EventLimits, EventRejected, Receipt
from app.ingest.events import validate_and_encode as validate_event
from app.ingest.ids import VARIANT_DIGIT
from app.segment.mapping_rules import SegmentRules, TrackMapping
from app.topics import KEPT_RAW_TYPE

KINDS = ("track", "page", "screen", "identify", "group", "alias")
MAX_MESSAGE_BYTES = 32 * 1024  # Segment's limit for one message
MAX_ID_CHARS, MAX_TIME_CHARS = 128, 64
# Message ids that are not UUIDs are made into one under this namespace, with the write key.
MESSAGE_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:movie-pipeline:segment:message-id")
NAMESPACE_BYTES = MESSAGE_ID_NAMESPACE.bytes
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Malformed:
    index: int
    kind: str  # the message's type, or "unknown"
    field: str
    reason: str
    too_large: bool  # which Segment answers 400; any other fault, 200


@dataclass(frozen=True)
class BatchContext:
    """What every message of one request shares."""

    write_key: str
    source: str  # the write key's name in the settings
    rules: SegmentRules
    limits: EventLimits
    receipt: Receipt
    received_at: datetime
    sent_at: object  # the batch's `sentAt`, for messages without their own
    context: dict[str, Any]  # the batch's `context`, under each message's own

    @functools.cached_property
    def sent_time(self) -> datetime | None:
        """The batch's `sentAt`, read once for all its messages (MessageRefused if no time)."""
        return parse_time(self.sent_at, "sentAt")


@dataclass(frozen=True)
class Sorted:
    modelled: list[AcceptedEvent]
    kept_raw: list[AcceptedEvent]  # event_type KEPT_RAW_TYPE
    malformed: list[Malformed]

    @property
    def accepted(self) -> list[AcceptedEvent]:
        return [*self.modelled, *self.kept_raw]


class MessageRefused(ValueError):
    def __init__(self, field: str, reason: str, *, too_large: bool = False) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.too_large = field, reason, too_large


def sort_messages(messages: list[object], path_kind: str | None, batch: BatchContext) -> Sorted:
    """`path_kind`: the type a single-message route gives (`/v1/track`), None for a batch."""
    modelled, kept, malformed = [], [], []
    for index, raw in enumerate(messages):
        kind = path_kind or (raw.get("type") if isinstance(raw, dict) else None)
        try:
            taken = take_message(index, raw, kind, batch)
        except MessageRefused as error:
            known = kind if kind in KINDS else "unknown"
            malformed.append(Malformed(index, known, error.field, error.reason, error.too_large))
            continue
        (kept if taken.event_type == KEPT_RAW_TYPE else modelled).append(taken)
    return Sorted(modelled, kept, malformed)


def take_message(index: int, raw: object, kind: object, batch: BatchContext) -> AcceptedEvent:
    if not isinstance(raw, dict):
        raise MessageRefused("", "a message must be a JSON object")
    if "writeKey" in raw:  # the browser's copy in every message: no key is kept with the data
        raw = {key: value for key, value in raw.items() if key != "writeKey"}
    text = orjson.dumps(raw)
    if len(text) > MAX_MESSAGE_BYTES:
        raise MessageRefused("", f"larger than {MAX_MESSAGE_BYTES // 1024} KB", too_large=True)
    if kind not in KINDS:
        field = "type" if "type" in raw else "type (required)"
        raise MessageRefused(field, f"must be one of {', '.join(KINDS)}")
    user_id = message_user(raw, batch)
    event_id = message_event_id(raw, batch.write_key, text)
    timestamp = raw.get("timestamp")
    sent_at = raw.get("sentAt")
    sent = batch.sent_time if sent_at is None else parse_time(sent_at, "sentAt")
    occurred_at = corrected_time(parse_time(timestamp, "timestamp"), sent, batch.received_at)
    name = raw.get("event") if kind == "track" else raw.get("name")
    mapping = batch.rules.track.get(name) if kind == "track" and isinstance(name, str) else None
    if mapping is not None:
        message = {**raw, "context": {**batch.context, **context_of(raw)}} if batch.context else raw
        candidate = event_candidate(message, mapping, event_id, user_id, occurred_at, batch)
        try:
            stored, encoded = validate_event(candidate, batch.receipt, server_context(
                message, batch, timestamp))  # fmt: skip
            return AcceptedEvent(index, stored, encoded)
        except EventRejected as error:
            reason = f"{error.field}: {error.reason}"
    else:
        reason = "no event is mapped from this track" if kind == "track" else (
            f"no event is mapped from {kind} messages")  # fmt: skip
    return kept_raw(index, raw, kind, name, event_id, user_id, occurred_at, reason, batch, text)


def message_user(raw: dict[str, Any], batch: BatchContext) -> str:
    for field in batch.rules.user_fields:
        value = raw.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # Segment takes numbers as ids too
        if isinstance(value, str) and value:
            if len(value) > MAX_ID_CHARS:
                raise MessageRefused(field, f"longer than {MAX_ID_CHARS} characters")
            if value in batch.limits.reserved_users:
                raise MessageRefused(field, "is reserved for the pipeline's canary")
            return value
    raise MessageRefused(batch.rules.user_fields[0], f"{' or '.join(batch.rules.user_fields)} "
                         "is required")  # fmt: skip


def message_event_id(raw: dict[str, Any], write_key: str, text: bytes) -> str:
    """The message id itself when it is a UUID, else a UUIDv5 of the write key and the id;
    without one (Segment's SDKs always send one), of the message's own bytes, which a retry
    repeats."""
    message_id = raw.get("messageId")
    if isinstance(message_id, str) and message_id:
        if len(message_id) > MAX_ID_CHARS * 2:
            raise MessageRefused("messageId", f"longer than {MAX_ID_CHARS * 2} characters")
        if UUID_TEXT.fullmatch(message_id):
            return message_id.lower()
        return uuid5_text(f"{write_key}\n{message_id}".encode())
    if message_id is not None:
        raise MessageRefused("messageId", "must be a string")
    return uuid5_text(f"{write_key}\n".encode().hex().encode() + text.hex().encode())


def uuid5_text(name: bytes) -> str:
    """uuid.uuid5(MESSAGE_ID_NAMESPACE, name) as text, without building UUID objects: a fifth
    of the cost, on every message of the browser and Node SDKs."""
    digits = hashlib.sha1(NAMESPACE_BYTES + name, usedforsecurity=False).hexdigest()
    variant = VARIANT_DIGIT[digits[16]]
    return f"{digits[:8]}-{digits[8:12]}-5{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:32]}"


def parse_time(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        raise MessageRefused(field, "must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MessageRefused(field, "must be an ISO 8601 date-time string") from None
    if moment.tzinfo is None:
        raise MessageRefused(field, "must name its offset from UTC (Z or ±hh:mm)")
    return moment


def corrected_time(
    occurred: datetime | None, sent: datetime | None, received_at: datetime
) -> datetime:
    """Segment's rule: the client's clock is off by as much as its `sentAt` is from our receive
    time, so `occurred_at = received_at - (sentAt - timestamp)`. Without `sentAt` the timestamp
    stands; without a timestamp, the receive time."""
    if occurred is None:
        return received_at
    if sent is None:
        return occurred
    try:
        return received_at - (sent - occurred)
    except OverflowError:
        raise MessageRefused("sentAt", "is out of range") from None


def context_of(raw: dict[str, Any]) -> dict[str, Any]:
    context = raw.get("context")
    return context if isinstance(context, dict) else {}


def event_candidate(
    message: dict[str, Any],
    mapping: TrackMapping,
    event_id: str,
    user_id: str,
    occurred_at: datetime,
    batch: BatchContext,
) -> dict[str, Any]:
    """The event as a client of `POST /events` would send it, which the events' own checks
    then take or refuse."""
    context, payload = {}, {}
    for name, rule in batch.rules.context.items():
        if (value := rule.value(message)) is not None:
            context[name] = value
    for name, rule in mapping.payload.items():
        if (value := rule.value(message)) is not None:
            payload[name] = value
    return {
        "event_id": event_id,
        "event_type": mapping.event_type,
        "user_id": user_id,
        "movie_id": movie_number(mapping.movie_id.value(message)),
        "occurred_at": occurred_at,
        "context": context,
        "payload": payload,
    }


def movie_number(value: object) -> object:
    """Segment's properties are often strings: "603" is movie 603."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return value


def server_context(
    message: dict[str, Any], batch: BatchContext, timestamp: object
) -> dict[str, str]:
    """The source, the client's own timestamp, and the browser's user agent, which the SDK
    reports in the message (the request's is a server SDK's own: no user's, so not kept)."""
    found = {"source": batch.source}
    if isinstance(timestamp, str):
        found["client_timestamp"] = timestamp
    rule = batch.rules.user_agent
    agent = rule.value(message) if rule else None
    if isinstance(agent, str) and agent:
        found["user_agent"] = agent.replace("\x00", "")[: batch.limits.max_user_agent_length]
    return found


def kept_raw(
    index: int,
    raw: dict[str, Any],
    kind: str,
    name: object,
    event_id: str,
    user_id: str,
    occurred_at: datetime,
    reason: str,
    batch: BatchContext,
    text: bytes,
) -> AcceptedEvent:
    """The message as it came (as JSON text: any key MongoDB might refuse stays data), and
    what the audit and an erasure need of it."""
    stored = {
        "event_id": event_id,
        "event_type": KEPT_RAW_TYPE,
        "kind": kind,
        "name": name if isinstance(name, str) else None,
        "user_id": user_id,
        "occurred_at": occurred_at.isoformat(),
        "received_at": batch.receipt.received_at_text,
        "source": batch.source,
        "reason": reason,
        "message": text.decode(),
    }
    return AcceptedEvent(index, stored, orjson.dumps(stored))
