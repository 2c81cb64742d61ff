"""`POST /events`: validate each event, publish the valid ones, answer once Kafka holds them."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import resources_of
from app.api.ingest_docs import INGEST_RESPONSES, IngestResult, events_request_body
from app.ingest.accept import publish_accepted, validate_all
from app.ingest.events import event_json_schema
from app.ingest.request_body import (
    IngestError,
    check_media_type,
    decode_content,
    parse_events,
    read_limited,
)
from app.metrics import EVENTS_ACCEPTED, EVENTS_REJECTED, PUBLISH_FAILURES, PUBLISH_LATENCY
from app.producers.kafka import PublishUnavailable

router = APIRouter(tags=["ingest"])


@router.post(
    "/events",
    status_code=202,
    response_model=IngestResult,
    responses=INGEST_RESPONSES,
    openapi_extra={"requestBody": events_request_body()},
)
async def ingest_events(request: Request) -> Response:
    # Looked up, not injected: resolving a dependency costs a single event's request more
    # than validating the event does.
    resources = resources_of(request)
    settings = resources.settings
    check_media_type(request.headers.get("content-type"))
    try:
        async with asyncio.timeout(settings.api_body_timeout_seconds):
            body = await read_limited(request.stream(), settings.max_body_bytes)
    except TimeoutError:
        raise IngestError(
            408, "body", f"not received within {settings.api_body_timeout_seconds:g}s"
        ) from None
    body = decode_content(
        body, request.headers.get("content-encoding"), settings.max_inflated_bytes
    )
    candidates = parse_events(body, settings.max_batch_events, settings.max_json_values)

    validated = validate_all(candidates, resources.event_limits, request.headers.get("user-agent"))
    accepted, rejected = validated.accepted, validated.rejected
    # Built by hand, not through IngestResult: a batch's answer is on the hot path.
    result = {
        "accepted": [{"index": a.index, "event_id": a.event_id} for a in accepted],
        "rejected": [{"index": r.index, "field": r.field, "reason": r.reason} for r in rejected],
    }
    for kind, count in Counter(rejection.kind for rejection in rejected).items():
        EVENTS_REJECTED.labels(kind).inc(count)
    if not accepted:
        return json_response(result, 422)

    started = time.perf_counter()
    try:
        await publish_accepted(resources.publisher, accepted)
    except PublishUnavailable as error:
        PUBLISH_FAILURES.inc()
        retry_after = str(max(1, round(settings.publish_timeout_seconds)))
        return JSONResponse(
            {"detail": {"field": "", "reason": str(error)}},
            status_code=503,
            headers={"Retry-After": retry_after},
        )
    PUBLISH_LATENCY.observe(time.perf_counter() - started)
    for event_type, count in Counter(item.event_type for item in accepted).items():
        EVENTS_ACCEPTED.labels(event_type).inc(count)
    return json_response(result, 202)


def json_response(content: dict[str, Any], status_code: int) -> Response:
    return Response(orjson.dumps(content), status_code, media_type="application/json")


@router.get("/events/schema")
async def events_schema() -> dict[str, Any]:
    """The JSON Schema of one event as the frontend sends it."""
    return event_json_schema()


def ingest_error_response(_request: Request, error: Exception) -> Response:
    assert isinstance(error, IngestError)
    EVENTS_REJECTED.labels(f"request_{error.status_code}").inc()
    return JSONResponse(
        {"detail": {"field": error.field, "reason": error.reason}}, status_code=error.status_code
    )
