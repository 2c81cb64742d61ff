"""Turn a request body into a list of candidate events: size limits, gzip, JSON, batch shape.

Pure apart from reading the body; every refusal is an IngestError with its HTTP status.
"""

from __future__ import annotations

import zlib

import orjson
from starlette.types import Receive

ACCEPTED_MEDIA_TYPES = ("application/json", "text/plain")
MAX_GZIP_MEMBERS = 64  # each member costs a copy of what follows it


class IngestError(Exception):
    """A request refused as a whole, before any event is looked at."""

    def __init__(self, status_code: int, field: str, reason: str) -> None:
        super().__init__(reason)
        self.status_code, self.field, self.reason = status_code, field, reason


async def read_limited(receive: Receive, max_bytes: int) -> bytes:
    """Read the body from ASGI messages, refusing it as soon as it passes the limit, before
    buffering the rest."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # Nobody is left to answer, but the request ends as a client error, not a crash.
            raise IngestError(400, "body", "the client went away before sending the body")
        body += message.get("body", b"")
        if len(body) > max_bytes:
            raise IngestError(413, "body", f"body is larger than {max_bytes} bytes")
        if not message.get("more_body", False):
            return bytes(body)


def check_media_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise IngestError(
            415, "content-type", f"use {' or '.join(ACCEPTED_MEDIA_TYPES)}, not {media_type!r}"
        )


def decode_content(body: bytes, content_encoding: str | None, max_inflated_bytes: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise IngestError(415, "content-encoding", f"use gzip or none, not {encoding!r}")
    inflated = bytearray()
    remaining = body
    for _ in range(MAX_GZIP_MEMBERS):  # a gzip stream may hold several members in a row
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            inflated += inflater.decompress(remaining, max_inflated_bytes + 1 - len(inflated))
        except zlib.error as error:
            raise IngestError(400, "body", f"invalid gzip data: {error}") from None
        if len(inflated) > max_inflated_bytes:
            raise IngestError(413, "body", f"inflates to more than {max_inflated_bytes} bytes")
        if not inflater.eof:
            raise IngestError(400, "body", "truncated gzip data")
        remaining = inflater.unused_data
        if not remaining:
            return bytes(inflated)
    raise IngestError(413, "body", f"more than {MAX_GZIP_MEMBERS} gzip members")


def check_json_values(body: bytes, max_json_values: int) -> None:
    """Parsing costs time in proportion to the values a body holds, on the event loop: a body
    holding more than are counted (arrays, objects and the commas between items, strings'
    included, so an upper bound) is refused unparsed."""
    if body.count(b",") + body.count(b"[") + body.count(b"{") > max_json_values:
        raise IngestError(413, "body", f"holds more than {max_json_values} JSON values")


def parse_events(body: bytes, max_batch_events: int, max_json_values: int) -> list[object]:
    """One event, a JSON array of events, or `{"events": [...]}`, as a list."""
    check_json_values(body, max_json_values)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise IngestError(400, "body", f"not valid JSON (UTF-8, no NaN): {error}") from None
    if isinstance(document, dict) and "events" in document and "event_type" not in document:
        if set(document) != {"events"}:
            raise IngestError(422, "body", "a batch object holds only the key 'events'")
        document = document["events"]
        if not isinstance(document, list):
            raise IngestError(422, "events", "must be an array of events")
    events = document if isinstance(document, list) else [document]
    if not isinstance(document, list | dict):
        raise IngestError(422, "body", "must be an event, an array of events or {events: [...]}")
    if not events:
        raise IngestError(422, "body", "holds no event")
    if len(events) > max_batch_events:
        raise IngestError(413, "events", f"more than {max_batch_events} events in one request")
    return events
