"""The Segment protocol's routes as a bare ASGI app, served before FastAPI's middleware and
routing as `POST /events` is (app/api/ingest_lane.py): `/v1/batch` and `/v1/b`, the
single-message routes `/v1/{track,page,screen,identify,group,alias}` and their one-letter
aliases, and `/beacon/v1/batch` (the write key in the query)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import State
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from app.api.fair_use import FairUse
from app.api.ingest_lane import read_body, route_path, send_answer
from app.bootstrap import Resources
from app.ingest.request_body import IngestError, check_media_type
from app.segment.door import SegmentDoor
from app.segment.intake import MAX_BATCH_BYTES, SegmentRefusal, SegmentRequest, take_messages
from app.segment.messages import KINDS

BATCH_PATHS = ("/v1/batch", "/v1/b", "/beacon/v1/batch")
# The single-message routes' last step and the message type it gives.
MESSAGE_ROUTES: dict[str, str] = {
    **{kind: kind for kind in KINDS},
    **{kind[0]: kind for kind in KINDS},
}
# Each route and the message type it gives; None: a batch, each message names its own.
SEGMENT_ROUTES: dict[str, str | None] = {
    **dict.fromkeys(BATCH_PATHS),
    **{f"/v1/{step}": kind for step, kind in MESSAGE_ROUTES.items()},
}
MAX_QUERY_CHARS = 1024
NOT_ALLOWED = SegmentRefusal(405, "method_not_allowed", "", "use POST").answer(
    [(b"allow", b"POST")]
)


class SegmentLane:
    """Serves every Segment route; `state` holds the resources and the door once started."""

    def __init__(self, state: State, door: SegmentDoor) -> None:
        self._state, self._door = state, door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await send_answer(send, NOT_ALLOWED)
            return
        resources: Resources = self._state.resources
        headers = segment_headers(scope)
        try:
            if (content_type := headers.get(b"content-type")) is not None:
                check_media_type(content_type)  # none said: JSON, as Segment takes it
            body = await read_body(receive, MAX_BATCH_BYTES,
                                   resources.settings.api_body_timeout_seconds)  # fmt: skip
        except IngestError as error:
            status = 400 if error.status_code == 413 else error.status_code
            code = "request_too_large" if error.status_code == 413 else "invalid_request"
            refusal = SegmentRefusal(status, code, error.field, error.reason)
            await send_answer(send, refusal.answer())
            return
        request = SegmentRequest(
            body,
            headers.get(b"content-encoding"),
            headers.get(b"authorization"),
            query_write_key(scope.get("query_string", b"")),
            SEGMENT_ROUTES[route_path(scope)],
        )
        await send_answer(send, await take_messages(request, self._door, resources))


def is_segment(scope: Scope) -> bool:
    return scope["type"] == "http" and route_path(scope) in SEGMENT_ROUTES


def segment_lane(
    state: State, door: SegmentDoor, cors: dict[str, Any], limits: dict[str, Any]
) -> CORSMiddleware:
    """Behind CORS, then fair use (ingest's limit: the same clients, the same work)."""
    return CORSMiddleware(FairUse(SegmentLane(state, door), **limits), **cors)


def segment_headers(scope: Scope) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in (b"content-type", b"content-encoding", b"authorization"):
            found.setdefault(name, value.decode("latin-1"))
    return found


def query_write_key(query: bytes) -> str | None:
    if not query or len(query) > MAX_QUERY_CHARS:
        return None
    values = parse_qs(query.decode("latin-1")).get("writeKey")
    return values[0] if values else None
