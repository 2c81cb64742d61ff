"""The ingest routes FastAPI serves: the events' JSON Schema, and `POST /events` as OpenAPI
declares it. The requests themselves go to the lane (app/api/ingest_lane.py), ahead of routing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.ingest_docs import INGEST_RESPONSES, IngestResult, events_request_body
from app.ingest.events import event_json_schema

router = APIRouter(tags=["ingest"])
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
