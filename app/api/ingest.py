"""`POST /events`: validate each event, publish the valid ones, answer once Kafka holds them."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from app.config import USER_TOPICS, Settings
from app.events import (
    AcceptedEvent,
    EventLimits,
    EventRejected,
    Rejection,
    event_json_schema,
    validate_event,
)
from app.ingest_body import (
    IngestError,
    check_media_type,
    decode_content,
    parse_events,
    read_limited,
)
from app.metrics import EVENTS_ACCEPTED, EVENTS_REJECTED, PUBLISH_FAILURES, PUBLISH_LATENCY
from app.producers.kafka import KafkaPublisher, OutgoingMessage, PublishUnavailable
from app.state import get_publisher, get_settings_dep

router = APIRouter(tags=["ingest"])
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
PublisherDep = Annotated[KafkaPublisher, Depends(get_publisher)]


class AcceptedItem(BaseModel):
    index: int
    event_id: str


class RejectedItem(BaseModel):
    index: int
    field: str
    reason: str


class IngestResult(BaseModel):
    accepted: list[AcceptedItem]
    rejected: list[RejectedItem]


@router.post(
    "/events",
    status_code=202,
    responses={
        400: {"description": "The body is not valid JSON or gzip"},
        413: {"description": "Body, inflated body or batch over the limit"},
        415: {"description": "Unsupported content type or encoding"},
        422: {"model": IngestResult, "description": "No event in the request is valid"},
        503: {"description": "Kafka did not acknowledge in time; retry after Retry-After"},
    },
)
async def ingest_events(
    request: Request, settings: SettingsDep, publisher: PublisherDep
) -> IngestResult:
    check_media_type(request.headers.get("content-type"))
    body = await read_limited(request.stream(), settings.max_body_bytes)
    body = decode_content(
        body, request.headers.get("content-encoding"), settings.max_inflated_bytes
    )
    candidates = parse_events(body, settings.max_batch_events)

    # JSON can carry NUL only as an escape: without one, no event needs walking for it.
    may_hold_nul = b"\\u0000" in body
    accepted, rejected = validate_all(
        candidates, settings, request.headers.get("user-agent"), may_hold_nul
    )
    result = IngestResult(
        accepted=[AcceptedItem(index=a.index, event_id=a.event_id) for a in accepted],
        rejected=[RejectedItem(index=r.index, field=r.field, reason=r.reason) for r in rejected],
    )
    for kind, count in Counter(rejection.kind for rejection in rejected).items():
        EVENTS_REJECTED.labels(kind).inc(count)
    if not accepted:
        return JSONResponse(result.model_dump(), status_code=422)

    started = time.perf_counter()
    try:
        await publisher.publish([outgoing_message(a) for a in accepted])
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
    return result


@router.get("/events/schema")
async def events_schema() -> dict[str, Any]:
    """The JSON Schema of one event as the frontend sends it."""
    return event_json_schema()


def validate_all(
    candidates: list[object], settings: Settings, user_agent: str | None, may_hold_nul: bool
) -> tuple[list[AcceptedEvent], list[Rejection]]:
    received_at = datetime.now(UTC)
    limits = EventLimits(
        max_future_skew=timedelta(seconds=settings.event_max_future_skew_seconds),
        max_age=timedelta(days=settings.event_max_age_days),
    )
    accepted, rejected = [], []
    for index, candidate in enumerate(candidates):
        try:
            event = validate_event(candidate, received_at, user_agent, limits, may_hold_nul)
        except EventRejected as error:
            rejected.append(Rejection(index, error.field, error.reason, error.kind))
        else:
            accepted.append(AcceptedEvent(index, event))
    return accepted, rejected


def outgoing_message(accepted: AcceptedEvent) -> OutgoingMessage:
    return OutgoingMessage(
        topic=USER_TOPICS[accepted.event_type],
        key=accepted.user_id.encode(),
        value=orjson.dumps(accepted.event),
    )


def ingest_error_response(_request: Request, error: Exception) -> Response:
    assert isinstance(error, IngestError)
    EVENTS_REJECTED.labels(f"request_{error.status_code}").inc()
    return JSONResponse(
        {"detail": {"field": error.field, "reason": error.reason}}, status_code=error.status_code
    )
