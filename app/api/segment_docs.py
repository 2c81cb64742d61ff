"""What the Segment routes accept and answer, declared for OpenAPI: their lane reads the body
as a bounded stream and writes its answers by hand, so FastAPI infers neither."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Any object is a message to this door: one it cannot take is counted and named in a 200, as
# Segment drops it, so no narrower schema would be true.
MESSAGE = {
    "type": "object",
    "description": "A Segment message: `type` (or the route), `userId` or `anonymousId`, "
    "`messageId`, `timestamp`; a track names its `event` and `properties`. At most 32 KB.",
}
EXAMPLE = {
    "type": "track",
    "event": "Video Playback Paused",
    "userId": "user-42",
    "messageId": "node-next-1733580000000-5f0c1d2e",
    "timestamp": "2026-12-07T12:00:00.000Z",
    "properties": {"movie_id": 550, "position": 1200, "total_length": 8340},
}
# Only `batch` is required to be what it is: the rest, when it is not, is passed over (a key not
# a string: the query's is looked for; a batch context not an object: the messages' own stand).
BATCH = {
    "type": "object",
    "properties": {
        # An item that is no object is named malformed in a 200, as Segment drops it.
        "batch": {"type": "array", "items": {"description": MESSAGE["description"]}},
        "writeKey": {"description": "The write key, if neither Basic auth nor the query has it"},
        "sentAt": {"description": "The client's clock when it sent the batch (ISO 8601)"},
        "context": {"description": "Context every message of the batch shares"},
    },
    "required": ["batch"],
}
MEDIA_TYPES = ("application/json", "text/plain")


def request_body(schema: dict[str, Any], example: dict[str, Any], limit: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": f"JSON, as application/json or text/plain (the browser SDK and beacons), "
        f"gzip accepted; at most {limit}. The write key as Basic auth (the user name), "
        "`writeKey` in the body, or `?writeKey=`.",
        "content": {t: {"schema": schema, "example": example} for t in MEDIA_TYPES},
    }


BATCH_BODY = request_body(BATCH, {"batch": [EXAMPLE], "sentAt": EXAMPLE["timestamp"]}, "500 KB")
MESSAGE_BODY = request_body(MESSAGE, EXAMPLE, "32 KB")


class MalformedItem(BaseModel):
    index: int
    field: str
    reason: str


class SegmentSuccess(BaseModel):
    success: bool
    malformed: list[MalformedItem] | None = None


class SegmentError(BaseModel):
    success: bool
    code: str
    field: str
    message: str
    malformed: list[MalformedItem] | None = None


SEGMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": SegmentSuccess,
        "description": "Kafka holds every accepted message; `malformed` names those dropped "
        "(no type, no user), as Segment drops them",
    },
    400: {
        "model": SegmentError,
        "description": "Not JSON, over 500 KB (32 KB a message route), over 2,500 messages, or "
        "a message over 32 KB (the batch's other messages were taken)",
    },
    401: {"model": SegmentError, "description": "No write key, or one of no source"},
    404: {"description": "No such message type (`/v1/{message_type}`)"},
    405: {"model": SegmentError, "description": "Not a POST"},
    408: {"model": SegmentError, "description": "The body did not arrive in time"},
    415: {"model": SegmentError, "description": "A content type other than JSON or text"},
    429: {
        "description": "Over the fair-use limit of this client (problem+json); retry after "
        "Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
    503: {
        "model": SegmentError,
        "description": "Kafka did not acknowledge in time; the SDKs retry after Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
