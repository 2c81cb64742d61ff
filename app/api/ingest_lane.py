"""`POST /events` as a bare ASGI app, served before FastAPI's middleware and routing.

A frontend sends mostly single events (a beacon on every page hide), and for one small event
the framework's layers cost more than the event's own work: measured under wrk, they took
most of a request's CPU. The lane keeps what the route needs of them: CORS, the fair-use
limits, a bounded body, and refusals as 4xx answers; an unexpected error is uvicorn's 500, as
it was Starlette's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.datastructures import State
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from app.api.fair_use import FairUse
from app.bootstrap import Resources
from app.ingest.intake import (
    Answer,
    RequestHeaders,
    json_answer,
    refusal,
    take_events,
)
from app.ingest.request_body import IngestError, check_media_type, read_limited

INGEST_PATH = "/events"
NOT_ALLOWED = json_answer(405, {"detail": "Method Not Allowed"}, [(b"allow", b"POST")])


class IngestLane:
    """Serves every request for INGEST_PATH; `state` holds the resources once started."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await send_answer(send, NOT_ALLOWED)
            return
        resources: Resources = self._state.resources
        headers = request_headers(scope)
        try:
            check_media_type(headers.content_type)  # before the body: no body could mend it
            body = await read_body(receive, resources.settings.max_body_bytes,
                                   resources.settings.api_body_timeout_seconds)  # fmt: skip
            answer = await take_events(body, headers, resources)
        except IngestError as error:
            answer = refusal(error)
        await send_answer(send, answer)


def is_ingest(scope: Scope) -> bool:
    """Whether FastAPI would route this request to INGEST_PATH (any method: a wrong one is
    answered 405 here, as routing would)."""
    return scope["type"] == "http" and route_path(scope) == INGEST_PATH


def route_path(scope: Scope) -> str:
    """The request's path as routing sees it, the app's root path taken off."""
    path, root_path = scope["path"], scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    return path


def ingest_lane(state: State, cors: dict[str, Any], limits: dict[str, Any]) -> CORSMiddleware:
    """The lane behind CORS, then fair use (so a browser can read a 429's Retry-After)."""
    return CORSMiddleware(FairUse(IngestLane(state), **limits), **cors)


def request_headers(scope: Scope) -> RequestHeaders:
    # ASGI servers give header names in lower case; the first of a repeated header counts.
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in (b"content-type", b"content-encoding", b"user-agent"):
            found.setdefault(name, value)

    def text(name: bytes) -> str | None:
        value = found.get(name)
        return None if value is None else value.decode("latin-1")

    return RequestHeaders(text(b"content-type"), text(b"content-encoding"), text(b"user-agent"))


async def read_body(receive: Receive, max_bytes: int, timeout_seconds: float) -> bytes:
    try:
        async with asyncio.timeout(timeout_seconds):
            return await read_limited(receive, max_bytes)
    except TimeoutError:
        raise IngestError(408, "body", f"not received within {timeout_seconds:g}s") from None


async def send_answer(send: Send, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})
