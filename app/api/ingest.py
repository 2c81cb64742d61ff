"""The ingest routes FastAPI serves: the events' JSON Schema, and `POST /events` and the
Segment routes as OpenAPI declares them. The requests themselves go to their lanes
(app/api/ingest_lane.py, app/api/segment_lane.py), ahead of routing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from app.api.ingest_docs import INGEST_RESPONSES, IngestResult, events_request_body
from app.api.segment_docs import BATCH_BODY, MESSAGE_BODY, SEGMENT_RESPONSES, SegmentSuccess
from app.api.segment_lane import MESSAGE_ROUTES
from app.ingest.event_schema import event_json_schema

router = APIRouter(tags=["ingest"])
# A Segment write key where neither Basic auth nor the body can carry it (a beacon).
WriteKeyQuery = Annotated[
    str | None,
    Query(alias="writeKey", max_length=256, description="Else Basic auth, or the body's"),
]
# Read by OpenAPI alone: a router that no request is routed through.
documented = APIRouter(tags=["ingest"])


@documented.post(
    "/events",
    status_code=202,
    response_model=IngestResult,
    responses=INGEST_RESPONSES,
    openapi_extra={"requestBody": events_request_body()},
)
async def ingest_events() -> None:
    """Validate each event on its own, publish the valid ones to Kafka, and answer once Kafka
    holds them: 202 with each event's id, or why it was refused."""


@router.get("/events/schema")
async def events_schema() -> dict[str, Any]:
    """The JSON Schema of one event as the frontend sends it."""
    return event_json_schema()


@documented.post(
    "/v1/batch",
    tags=["segment"],
    response_model=SegmentSuccess,
    responses=SEGMENT_RESPONSES,
    openapi_extra={"requestBody": BATCH_BODY},
)
async def segment_batch(write_key: WriteKeyQuery = None) -> None:
    """Segment's batch, from a tracking SDK unmodified (`/v1/b` too). Mapped tracks become
    events; other messages are kept raw in the backup; the message id is the event id."""


@documented.post(
    "/v1/{message_type}",
    tags=["segment"],
    response_model=SegmentSuccess,
    responses=SEGMENT_RESPONSES,
    openapi_extra={"requestBody": MESSAGE_BODY},
)
async def segment_message(
    message_type: Literal[*MESSAGE_ROUTES],  # type: ignore[valid-type]
    write_key: WriteKeyQuery = None,
) -> None:
    """One Segment message; the route gives its type (track, page, screen, identify, group,
    alias, or their first letters, as the browser SDK sends them)."""


@documented.post(
    "/beacon/v1/batch",
    tags=["segment"],
    response_model=SegmentSuccess,
    responses=SEGMENT_RESPONSES,
    openapi_extra={"requestBody": BATCH_BODY},
)
async def segment_beacon(write_key: WriteKeyQuery = None) -> None:
    """A batch from `navigator.sendBeacon`, which sends no headers of its own: the write key
    in the query."""
