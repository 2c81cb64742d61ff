"""One request of the Segment protocol, answered as Segment answers it.

- `200 {"success": true}` once Kafka holds every accepted message, events and messages kept
  raw alike, with the receipt the audit counts them by. Messages Segment would drop without a
  word (no user, no type) are counted and named in the answer, which the SDKs ignore.
- `400` for what Segment refuses itself: a body that is no JSON, over 500 KB (32 KB on a
  single-message route), or holding a message over 32 KB; the other messages of such a batch
  are taken all the same, since an SDK does not send a refused batch again.
- `401` for a write key we do not know (Segment takes any; we name our sources).
- `503` with Retry-After when Kafka did not acknowledge in time: the SDKs send again, and the
  message ids make the second delivery the same events.

Every error body holds `code` and `message`: segment-analytics-python 2.3 sends a 4xx again
when its body lacks `code`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from app.bootstrap import Resources
from app.ingest.accept import publish_accepted
from app.ingest.events import Receipt
from app.ingest.intake import Answer, Headers, json_answer, retry_after
from app.ingest.request_body import IngestError, check_json_values, decode_content
from app.metrics import (
    EVENTS_ACCEPTED,
    EVENTS_REJECTED,
    PUBLISH_FAILURES,
    PUBLISH_LATENCY,
    SEGMENT_MESSAGES,
)
from app.producers.kafka import PublishUnavailable
from app.segment.door import SegmentDoor
from app.segment.messages import (
    MAX_MESSAGE_BYTES,
    BatchContext,
    Malformed,
    Sorted,
    sort_messages,
)
from app.segment.write_keys import basic_user

MAX_BATCH_BYTES = 500 * 1024  # Segment's limit for a batch
MAX_MESSAGES = 2500  # Segment's too; 500 KB hardly holds more
SUCCESS = json_answer(200, {"success": True})


class SegmentRefusal(Exception):
    def __init__(self, status: int, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.field, self.message = status, code, field, message

    def answer(self, headers: Headers | None = None) -> Answer:
        body = {"success": False, "code": self.code, "field": self.field, "message": self.message}
        return json_answer(self.status, body, headers)


@dataclass(frozen=True)
class SegmentRequest:
    body: bytes
    content_encoding: str | None
    authorization: str | None
    query_write_key: str | None
    path_kind: str | None  # the message type a single-message route gives; None for a batch


async def take_messages(request: SegmentRequest, door: SegmentDoor, resources: Resources) -> Answer:
    try:
        document = parsed_body(request, resources.settings.max_json_values)
        messages = batch_messages(document, request.path_kind)
        write_key = request_write_key(request, document)
        source = door.write_keys.source(write_key)
        if source is None:
            raise SegmentRefusal(401, "invalid_write_key", "writeKey", "unknown write key")
    except SegmentRefusal as refusal:
        SEGMENT_MESSAGES.labels("request", f"refused_{refusal.status}").inc()
        EVENTS_REJECTED.labels(f"request_{refusal.status}").inc()
        return refusal.answer()
    received_at = datetime.now(UTC)
    limits = resources.event_limits
    sorted_messages = sort_messages(messages, request.path_kind, BatchContext(
        write_key, source, door.rules, limits,
        Receipt.of(received_at, None, limits), received_at,
        document.get("sentAt"), object_or_empty(document.get("context")),
    ))  # fmt: skip
    if accepted := sorted_messages.accepted:
        started = time.perf_counter()
        try:
            await publish_accepted(resources.publisher, accepted)
        except PublishUnavailable as error:
            PUBLISH_FAILURES.inc()
            refusal = SegmentRefusal(503, "unavailable", "", str(error))
            return refusal.answer(retry_after(resources.settings))
        PUBLISH_LATENCY.observe(time.perf_counter() - started)
    count(sorted_messages)
    return answer(sorted_messages)


def parsed_body(request: SegmentRequest, max_json_values: int) -> dict[str, Any]:
    limit = MAX_BATCH_BYTES if request.path_kind is None else MAX_MESSAGE_BYTES
    try:
        body = decode_content(request.body, request.content_encoding, limit)
    except IngestError as error:
        code = "request_too_large" if error.status_code == 413 else "invalid_request"
        raise SegmentRefusal(400, code, error.field, error.reason) from None
    if len(body) > limit:
        raise SegmentRefusal(400, "request_too_large", "body", f"larger than {limit // 1024} KB")
    try:
        check_json_values(body, max_json_values)
    except IngestError as error:
        raise SegmentRefusal(400, "request_too_large", error.field, error.reason) from None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise SegmentRefusal(400, "invalid_json", "body", f"not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise SegmentRefusal(400, "invalid_request", "body", "must be a JSON object")
    return document


def batch_messages(document: dict[str, Any], path_kind: str | None) -> list[object]:
    if path_kind is not None:
        return [document]
    messages = document.get("batch")
    if not isinstance(messages, list):
        raise SegmentRefusal(400, "invalid_request", "batch", "must be an array of messages")
    if len(messages) > MAX_MESSAGES:
        raise SegmentRefusal(400, "request_too_large", "batch",
                             f"more than {MAX_MESSAGES} messages")  # fmt: skip
    return messages


def request_write_key(request: SegmentRequest, document: dict[str, Any]) -> str:
    """From Basic auth (analytics-node; Python from 2.4), the body (Python 2.3, the browser),
    or the query (a beacon)."""
    for candidate in (
        basic_user(request.authorization),
        document.get("writeKey"),
        request.query_write_key,
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    reason = "no write key: Basic auth, writeKey in the body, or ?writeKey="
    raise SegmentRefusal(401, "invalid_write_key", "writeKey", reason)


def object_or_empty(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def count(sorted_messages: Sorted) -> None:
    """By kind and outcome; and in ingest's own counters, which the pipeline page reads: what
    was taken by its event type (`segment` when kept raw), what was dropped as malformed."""
    for event_type, events in Counter(e.event_type for e in sorted_messages.accepted).items():
        EVENTS_ACCEPTED.labels(event_type).inc(events)
    if sorted_messages.malformed:
        EVENTS_REJECTED.labels("segment_malformed").inc(len(sorted_messages.malformed))
    tally = Counter(
        [(event.event["kind"], "kept_raw") for event in sorted_messages.kept_raw]
        + [(m.kind, "malformed") for m in sorted_messages.malformed]
    )
    tally[("track", "modelled")] += len(sorted_messages.modelled)
    for (kind, outcome), messages in tally.items():
        if messages:
            SEGMENT_MESSAGES.labels(kind, outcome).inc(messages)


def answer(sorted_messages: Sorted) -> Answer:
    malformed = sorted_messages.malformed
    if not malformed:
        return SUCCESS
    too_large = [m for m in malformed if m.too_large]
    listed = [described(m) for m in malformed]
    if too_large:
        return json_answer(400, {
            "success": False, "code": "message_too_large", "field": f"batch[{too_large[0].index}]",
            "message": f"{len(too_large)} message(s) larger than {MAX_MESSAGE_BYTES // 1024} KB; "
                       "the others were taken", "malformed": listed,
        })  # fmt: skip
    return json_answer(200, {"success": True, "malformed": listed})


def described(malformed: Malformed) -> dict[str, Any]:
    return {"index": malformed.index, "field": malformed.field, "reason": malformed.reason}
